import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SESSIONS_REVOKED_CHANNEL } from "../../src/auth/revocation";
import { client } from "../helpers/http";
import { startTestServer, usingPostgres, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";

let server: TestServer;
let http: ReturnType<typeof client>;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
});
afterAll(() => server.stop());

async function loginAgain(u: TestUser, userAgent: string) {
  const r = await http.post("/auth/login", { body: { email: u.email, password: u.password }, headers: { "user-agent": userAgent } });
  expect(r.status).toBe(200);
  return { access: r.body.access_token as string, refresh: r.body.refresh_token as string };
}

const jtiOf = (jwt: string): string => JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString()).jti;

interface Revocation {
  session_ids: string[];
  user_id: number;
}

/** Subscribes now; `message` is the next `sessions:revoked` message on this server's broker. */
async function nextRevocation(s: TestServer): Promise<{ message: Promise<Revocation> }> {
  let deliver: (m: string) => void = () => {};
  const message = new Promise<string>((resolve) => (deliver = resolve));
  const off = await s.app.broker.subscribe(SESSIONS_REVOKED_CHANNEL, (m) => deliver(m));
  return {
    message: message.then(async (m) => {
      await off();
      return JSON.parse(m) as Revocation;
    }),
  };
}

describe("sessions", () => {
  test("list shows each login once with SessionRead fields and marks the current one", async () => {
    const u = await createUser(server);
    const phone = await loginAgain(u, "phone/1.0");
    const r = await http.get("/auth/sessions", { token: phone.access });
    expect(r.status).toBe(200);
    expect(r.body).toHaveLength(2);
    const current = r.body.find((s: { current: boolean }) => s.current);
    expect(current).toMatchObject({ jti: jtiOf(phone.access), user_agent: "phone/1.0", ip: "127.0.0.1" });
    expect(Object.keys(current).sort()).toEqual(["created_at", "current", "expires_at", "ip", "jti", "last_used_at", "user_agent"]);
    for (const field of ["created_at", "last_used_at", "expires_at"]) expect(current[field]).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    expect(r.body.filter((s: { current: boolean }) => !s.current).map((s: { jti: string }) => s.jti)).toEqual([jtiOf(u.token)]);
  });

  test("revoking one session refuses its access and refresh tokens at once and announces it", async () => {
    const u = await createUser(server);
    const other = await loginAgain(u, "laptop");
    const announced = await nextRevocation(server);
    const del = await http.delete(`/auth/sessions/${jtiOf(other.access)}`, { token: u.token });
    expect(del.status).toBe(204);
    expect(del.text).toBe("");
    expect(await announced.message).toEqual({ session_ids: [jtiOf(other.access)], user_id: u.id });
    expect((await http.get("/auth/me", { token: other.access })).status).toBe(401);
    expect((await http.post("/auth/refresh", { body: { refresh_token: other.refresh } })).status).toBe(401);
    expect((await http.get("/auth/me", { token: u.token })).status).toBe(200);
  });

  test("another user's jti, or an unknown one: 404, and nothing is revoked", async () => {
    const alice = await createUser(server);
    const bob = await createUser(server);
    expect((await http.delete(`/auth/sessions/${jtiOf(bob.token)}`, { token: alice.token })).status).toBe(404);
    expect((await http.delete("/auth/sessions/not-a-session", { token: alice.token })).status).toBe(404);
    expect((await http.get("/auth/me", { token: bob.token })).status).toBe(200);
  });

  test("DELETE /auth/sessions revokes every session but the current one", async () => {
    const u = await createUser(server);
    const a = await loginAgain(u, "a");
    const b = await loginAgain(u, "b");
    const del = await http.delete("/auth/sessions", { token: a.access });
    expect(del.status).toBe(204);
    expect((await http.get("/auth/me", { token: a.access })).status).toBe(200);
    expect((await http.get("/auth/me", { token: b.access })).status).toBe(401);
    expect((await http.get("/auth/me", { token: u.token })).status).toBe(401);
    expect((await http.post("/auth/refresh", { body: { refresh_token: b.refresh } })).status).toBe(401);
    const list = await http.get("/auth/sessions", { token: a.access });
    expect(list.body.map((s: { jti: string }) => s.jti)).toEqual([jtiOf(a.access)]);
  });

  test("revoking the current session signs the caller out", async () => {
    const u = await createUser(server);
    expect((await http.delete(`/auth/sessions/${jtiOf(u.token)}`, { token: u.token })).status).toBe(204);
    expect((await http.get("/auth/me", { token: u.token })).status).toBe(401);
  });

  test("all session endpoints need a token", async () => {
    expect((await http.get("/auth/sessions")).status).toBe(401);
    expect((await http.delete("/auth/sessions")).status).toBe(401);
    expect((await http.delete("/auth/sessions/x")).status).toBe(401);
  });
});

describe.skipIf(!usingPostgres)("revocation across instances", () => {
  test("a session revoked on one instance is refused by the other within a second", async () => {
    const second = await startTestServer({ shareWith: server });
    try {
      const u = await createUser(server);
      const other = await loginAgain(u, "tablet");
      const remote = client(second.url);
      expect((await remote.get("/auth/me", { token: other.access })).status).toBe(200);
      const announcedOnSecond = await nextRevocation(second);
      const revokedAt = performance.now();
      expect((await http.delete(`/auth/sessions/${jtiOf(other.access)}`, { token: u.token })).status).toBe(204);
      const refusedAccess = await remote.get("/auth/me", { token: other.access });
      const refusedRefresh = await remote.post("/auth/refresh", { body: { refresh_token: other.refresh } });
      expect(performance.now() - revokedAt).toBeLessThan(1000);
      expect(refusedAccess.status).toBe(401);
      expect(refusedRefresh.status).toBe(401);
      expect((await announcedOnSecond.message).session_ids).toEqual([jtiOf(other.access)]);
    } finally {
      await second.stop();
    }
  });
});
