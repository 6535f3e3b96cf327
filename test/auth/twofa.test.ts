import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { users } from "../../src/db/schema";
import { client } from "../helpers/http";
import { startTestServer, usingPostgres, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { totpCode, totpStep } from "./support";

let server: TestServer;
let http: ReturnType<typeof client>;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
});
afterAll(() => server.stop());

/** Sets up and enables 2FA with the code of `step - 1`; answers the secret. */
async function enable2fa(u: TestUser, step = totpStep()): Promise<string> {
  const setup = await http.post("/auth/2fa/setup", { token: u.token });
  expect(setup.status).toBe(200);
  const enable = await http.post("/auth/2fa/enable", { token: u.token, body: { code: totpCode(setup.body.secret, step - 1) } });
  expect(enable.status).toBe(200);
  return setup.body.secret;
}

const login = (u: TestUser, otp_code?: string) => http.post("/auth/login", { body: { email: u.email, password: u.password, otp_code } });

describe("2FA", () => {
  test("setup answers a base32 secret and an otpauth URL; it is not on until enabled", async () => {
    const u = await createUser(server);
    const r = await http.post("/auth/2fa/setup", { token: u.token });
    expect(r.status).toBe(200);
    expect(r.body.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(r.body.otpauth_url).toStartWith("otpauth://totp/");
    const url = new URL(r.body.otpauth_url);
    expect(url.searchParams.get("secret")).toBe(r.body.secret);
    expect(url.searchParams.get("period")).toBe("30");
    expect(url.searchParams.get("digits")).toBe("6");
    expect((await http.get("/auth/me", { token: u.token })).body.twofa_enabled).toBe(false);
    expect((await login(u)).status).toBe(200);
  });

  test("happy path: enable, login with a code, replayed code refused, disable", async () => {
    const u = await createUser(server);
    const step = totpStep();
    const secret = await enable2fa(u, step);
    expect((await http.get("/auth/me", { token: u.token })).body.twofa_enabled).toBe(true);

    const [row] = await server.app.db.select().from(users).where(eq(users.id, u.id));
    expect(row?.twofaSecret).not.toContain(secret);

    expect((await login(u)).status).toBe(401);
    expect((await login(u, "000000")).status).toBe(401);
    // The enable code was used already.
    expect((await login(u, totpCode(secret, step - 1))).status).toBe(401);
    const ok = await login(u, totpCode(secret, step));
    expect(ok.status).toBe(200);
    const replay = await login(u, totpCode(secret, step));
    expect(replay.status).toBe(401);
    // An older step than the last accepted one is refused too.
    expect((await login(u, totpCode(secret, step - 1))).status).toBe(401);

    expect((await http.post("/auth/2fa/disable", { token: u.token, body: { code: totpCode(secret, step) } })).status).toBe(400);
    const off = await http.post("/auth/2fa/disable", { token: u.token, body: { code: totpCode(secret, step + 1) } });
    expect(off.status).toBe(200);
    expect((await http.get("/auth/me", { token: u.token })).body.twofa_enabled).toBe(false);
    expect((await login(u)).status).toBe(200);
  });

  test("enable with a wrong code: 400; when already on: 409; setup when on: 409", async () => {
    const u = await createUser(server);
    const setup = await http.post("/auth/2fa/setup", { token: u.token });
    expect((await http.post("/auth/2fa/enable", { token: u.token, body: { code: "123456" === totpCode(setup.body.secret) ? "654321" : "123456" } })).status).toBe(400);
    expect((await http.post("/auth/2fa/enable", { token: u.token, body: { code: "abc" } })).status).toBe(400);
    const secret = setup.body.secret;
    expect((await http.post("/auth/2fa/enable", { token: u.token, body: { code: totpCode(secret) } })).status).toBe(200);
    expect((await http.post("/auth/2fa/enable", { token: u.token, body: { code: totpCode(secret, totpStep() + 1) } })).status).toBe(409);
    expect((await http.post("/auth/2fa/setup", { token: u.token })).status).toBe(409);
  });

  test("codes outside ±1 step are refused", async () => {
    const u = await createUser(server);
    const step = totpStep();
    const secret = await enable2fa(u, step);
    expect((await login(u, totpCode(secret, step + 2))).status).toBe(401);
    expect((await login(u, totpCode(secret, step - 3))).status).toBe(401);
  });

  test("disable needs a valid code; 2FA endpoints need a token", async () => {
    const u = await createUser(server);
    expect((await http.post("/auth/2fa/disable", { token: u.token, body: { code: "123456" } })).status).toBe(400);
    expect((await http.post("/auth/2fa/setup")).status).toBe(401);
    expect((await http.post("/auth/2fa/enable", { body: { code: "123456" } })).status).toBe(401);
  });
});

describe.skipIf(!usingPostgres)("2FA across instances", () => {
  test("one code used concurrently on two instances is accepted once", async () => {
    const second = await startTestServer({ shareWith: server });
    try {
      const u = await createUser(server);
      const step = totpStep();
      const secret = await enable2fa(u, step);
      const code = totpCode(secret, step);
      const body = { email: u.email, password: u.password, otp_code: code };
      const results = await Promise.all([
        ...Array.from({ length: 3 }, () => http.post("/auth/login", { body })),
        ...Array.from({ length: 3 }, () => client(second.url).post("/auth/login", { body })),
      ]);
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      expect(results.filter((r) => r.status === 401)).toHaveLength(5);
    } finally {
      await second.stop();
    }
  });
});
