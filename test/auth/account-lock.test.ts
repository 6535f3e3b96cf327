/**
 * The per-account failed-login lock (FAILED_LOGIN_LIMIT_PER_HOUR) beyond login itself: wrong 2FA
 * codes on enable/disable count toward it, and a password reset lifts it. (rate-limits.test.ts
 * covers login; its per-IP limits would trip on the registrations here.)
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { issueEmailToken } from "../../src/auth/email-tokens";
import { client, type ApiResponse } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser } from "../helpers/users";
import { totpCode, totpStep } from "./support";

let server: TestServer;
let http: ReturnType<typeof client>;

beforeAll(async () => {
  server = await startTestServer({ env: { FAILED_LOGIN_LIMIT_PER_HOUR: "3" } });
  http = client(server.url);
});
afterAll(() => server.stop());

function expectLocked(r: ApiResponse) {
  expect(r.status).toBe(429);
  expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(60);
}

describe("the account lock", () => {
  test("wrong codes on 2FA disable and enable count too: a stolen session cannot guess its way to turning 2FA off", async () => {
    const u = await createUser(server);
    const setup = await http.post("/auth/2fa/setup", { token: u.token });
    const step = totpStep();
    expect((await http.post("/auth/2fa/enable", { token: u.token, body: { code: totpCode(setup.body.secret, step - 1) } })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await http.post("/auth/2fa/disable", { token: u.token, body: { code: "000000" } })).status).toBe(400);
    // Locked: even the right code is refused, and so is a login.
    expectLocked(await http.post("/auth/2fa/disable", { token: u.token, body: { code: totpCode(setup.body.secret, step) } }));
    expectLocked(await http.post("/auth/login", { body: { email: u.email, password: u.password } }));
    expect((await http.get("/auth/me", { token: u.token })).body.twofa_enabled).toBe(true);

    const v = await createUser(server);
    await http.post("/auth/2fa/setup", { token: v.token });
    for (let i = 0; i < 3; i++) expect((await http.post("/auth/2fa/enable", { token: v.token, body: { code: "000000" } })).status).toBe(400);
    expectLocked(await http.post("/auth/2fa/enable", { token: v.token, body: { code: "000000" } }));
  });

  test("a password reset lifts the account's lock (following the link proves the mailbox)", async () => {
    const u = await createUser(server);
    for (let i = 0; i < 3; i++) await http.post("/auth/login", { body: { email: u.email, password: "wrong-password" } });
    expectLocked(await http.post("/auth/login", { body: { email: u.email, password: u.password } }));
    const token = await issueEmailToken(server.app, u.id, "reset_password");
    const reset = await http.post("/auth/reset-password", { body: { token, new_password: "brand-new-password" } });
    expect(reset.status).toBe(200);
    expect((await http.post("/auth/login", { body: { email: u.email, password: "brand-new-password" } })).status).toBe(200);
  });

});
