import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { luciaFor } from "../../src/auth/lucia";
import { sessions } from "../../src/db/schema";
import { client } from "../helpers/http";
import { startTestServer, usingPostgres, usingRedis, type TestServer } from "../helpers/server";
import { nextRevocationOn } from "../helpers/revocations";
import { createUser } from "../helpers/users";

let server: TestServer;
let http: ReturnType<typeof client>;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
});
afterAll(() => server.stop());

const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8"));

describe("login", () => {
  test("wrong password and unknown email both answer 401 with the same detail", async () => {
    const u = await createUser(server);
    const wrong = await http.post("/auth/login", { body: { email: u.email, password: "not-the-password" } });
    const unknown = await http.post("/auth/login", { body: { email: `nobody.${u.email}`, password: "not-the-password" } });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(unknown.body).toEqual(wrong.body);
  });

  test("tokens are HS256 JWTs with sub, jti, typ and exp; access and refresh share the session id", async () => {
    const u = await createUser(server);
    const access = claimsOf(u.token);
    const refresh = claimsOf(u.refreshToken);
    expect(access).toMatchObject({ sub: String(u.id), typ: "access" });
    expect(refresh).toMatchObject({ sub: String(u.id), typ: "refresh", jti: access.jti });
    expect(access.exp - access.iat).toBe(900);
    expect(JSON.parse(Buffer.from(u.token.split(".")[0] ?? "", "base64url").toString())).toMatchObject({ alg: "HS256" });
  });
});

describe("refresh", () => {
  test("returns a new pair; the old refresh token stops working and its reuse kills the session", async () => {
    const u = await createUser(server);
    const first = await http.post("/auth/refresh", { body: { refresh_token: u.refreshToken } });
    expect(first.status).toBe(200);
    expect(first.body.token_type).toBe("bearer");
    expect(first.body.refresh_token).not.toBe(u.refreshToken);
    expect((await http.get("/auth/me", { token: first.body.access_token })).status).toBe(200);

    const reuse = await http.post("/auth/refresh", { body: { refresh_token: u.refreshToken } });
    expect(reuse.status).toBe(401);
    expect(reuse.body.detail).toContain("reuse");
    // The whole session is gone: the newest tokens of it are refused too.
    expect((await http.get("/auth/me", { token: first.body.access_token })).status).toBe(401);
    expect((await http.post("/auth/refresh", { body: { refresh_token: first.body.refresh_token } })).status).toBe(401);
  });

  test("rotation keeps working across several refreshes", async () => {
    const u = await createUser(server);
    let refresh = u.refreshToken;
    for (let i = 0; i < 3; i++) {
      const r = await http.post("/auth/refresh", { body: { refresh_token: refresh } });
      expect(r.status).toBe(200);
      refresh = r.body.refresh_token;
    }
  });

  test("an access token is refused as a refresh token, and a refresh token as an access token", async () => {
    const u = await createUser(server);
    const asRefresh = await http.post("/auth/refresh", { body: { refresh_token: u.token } });
    expect(asRefresh.status).toBe(401);
    const asAccess = await http.get("/auth/me", { token: u.refreshToken });
    expect(asAccess.status).toBe(401);
    expect(asAccess.headers.get("www-authenticate")).toBe("Bearer");
    // Neither attempt harmed the session.
    expect((await http.post("/auth/refresh", { body: { refresh_token: u.refreshToken } })).status).toBe(200);
  });

  test("garbage and tampered refresh tokens: 401", async () => {
    const u = await createUser(server);
    expect((await http.post("/auth/refresh", { body: { refresh_token: "x.y.z" } })).status).toBe(401);
    const [h, p, s] = u.refreshToken.split(".");
    const forged = Buffer.from(JSON.stringify({ ...claimsOf(u.refreshToken), sub: "1" })).toString("base64url");
    expect((await http.post("/auth/refresh", { body: { refresh_token: `${h}.${forged}.${s}` } })).status).toBe(401);
    expect((await http.post("/auth/refresh", { body: { refresh_token: `${h}.${p}.${s}` } })).status).toBe(200);
  });

  test("parallel refreshes with one token: exactly one wins", async () => {
    const u = await createUser(server);
    const results = await Promise.all(Array.from({ length: 10 }, () => http.post("/auth/refresh", { body: { refresh_token: u.refreshToken } })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 401)).toHaveLength(9);
  });
});

describe("expired sessions", () => {
  test("a session past its expiry refuses both tokens, and the sweep removes it", async () => {
    const u = await createUser(server);
    const jti = claimsOf(u.token).jti;
    await server.app.db.update(sessions).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(sessions.id, jti));
    // Edited behind the server's back: a confirmation cached just before may stand for its second.
    await Bun.sleep(server.app.config.SESSION_CACHE_MS);
    expect((await http.get("/auth/me", { token: u.token })).status).toBe(401);
    expect((await http.post("/auth/refresh", { body: { refresh_token: u.refreshToken } })).status).toBe(401);
    await luciaFor(server.app).deleteExpiredSessions();
    expect(await server.app.db.select().from(sessions).where(eq(sessions.id, jti))).toEqual([]);
  });
});

describe.skipIf(!(usingPostgres && usingRedis))("two instances", () => {
  test("a refresh token rotated on one instance is reuse on the other", async () => {
    const second = await startTestServer({ shareWith: server });
    try {
      const u = await createUser(server);
      const rotated = await http.post("/auth/refresh", { body: { refresh_token: u.refreshToken } });
      expect(rotated.status).toBe(200);
      // createUser's /auth/me left the session (the same jti after rotation) in this instance's
      // cache: it refuses once the second instance's revocation message arrives (CONTRACT: within
      // a second), not necessarily before the second instance's answer reaches the test.
      const arrived = await nextRevocationOn(server);
      const reuse = await client(second.url).post("/auth/refresh", { body: { refresh_token: u.refreshToken } });
      expect(reuse.status).toBe(401);
      expect(await arrived.ids).toContain(claimsOf(u.token).jti);
      expect((await http.get("/auth/me", { token: rotated.body.access_token })).status).toBe(401);
    } finally {
      await second.stop();
    }
  });
});
