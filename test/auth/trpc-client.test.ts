/** The auth flows once through the typed tRPC client, the way a TypeScript app would call them. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTRPCClient, httpLink, TRPCClientError } from "@trpc/client";
import type { AppRouter } from "../../src/routers/_app";
import { startTestServer, type TestServer } from "../helpers/server";
import { linkToken, SmtpSink, totpCode, totpStep, uniqueAccount } from "./support";

let sink: SmtpSink;
let server: TestServer;

beforeAll(async () => {
  sink = await SmtpSink.start();
  server = await startTestServer({ env: { SMTP_URL: sink.url } });
});
afterAll(async () => {
  await server.stop();
  await sink.close();
});

const trpc = (token?: string) =>
  createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${server.url}/trpc`, headers: () => (token ? { authorization: `Bearer ${token}` } : {}) })],
  });

async function statusOf(call: Promise<unknown>): Promise<number | undefined> {
  try {
    await call;
    return 200;
  } catch (err) {
    if (err instanceof TRPCClientError) return (err.data as { httpStatus?: number } | undefined)?.httpStatus;
    throw err;
  }
}

describe("auth through @trpc/client", () => {
  test("register, verify, login, refresh, me, sessions, 2FA, reset", async () => {
    const anon = trpc();
    const acc = uniqueAccount("trpc");
    expect(await anon.auth.register.mutate(acc)).toHaveProperty("message");
    expect(await statusOf(anon.auth.register.mutate(acc))).toBe(409);
    expect(await statusOf(anon.auth.login.mutate({ email: acc.email, password: acc.password }))).toBe(403);

    await anon.auth.verifyEmail.mutate({ token: linkToken(await sink.next(acc.email, "Verify"), "verify-email") });
    expect(await statusOf(anon.auth.login.mutate({ email: acc.email, password: "wrong-password" }))).toBe(401);
    const pair = await anon.auth.login.mutate({ email: acc.email, password: acc.password });
    expect(pair.token_type).toBe("bearer");

    const rotated = await anon.auth.refresh.mutate({ refresh_token: pair.refresh_token });
    expect(await statusOf(anon.auth.refresh.mutate({ refresh_token: rotated.access_token }))).toBe(401);
    const me = await trpc(rotated.access_token).auth.me.query({});
    expect(me).toMatchObject({ email: acc.email, username: acc.username, email_verified: true });

    const authed = trpc(rotated.access_token);
    const second = await anon.auth.login.mutate({ email: acc.email, password: acc.password });
    const sessions = await authed.auth.sessions.query({});
    expect(sessions).toHaveLength(2);
    await authed.auth.revokeOtherSessions.mutate({});
    expect(await statusOf(trpc(second.access_token).auth.me.query({}))).toBe(401);
    const [only] = await authed.auth.sessions.query({});
    expect(only?.current).toBe(true);

    const step = totpStep();
    const setup = await authed.auth.setupTwoFactor.mutate({});
    expect(await statusOf(authed.auth.enableTwoFactor.mutate({ code: totpCode(setup.secret, step + 5) }))).toBe(400);
    await authed.auth.enableTwoFactor.mutate({ code: totpCode(setup.secret, step - 1) });
    expect(await statusOf(anon.auth.login.mutate({ email: acc.email, password: acc.password }))).toBe(401);
    await anon.auth.login.mutate({ email: acc.email, password: acc.password, otp_code: totpCode(setup.secret, step) });
    expect(await statusOf(anon.auth.login.mutate({ email: acc.email, password: acc.password, otp_code: totpCode(setup.secret, step) }))).toBe(401);
    await authed.auth.disableTwoFactor.mutate({ code: totpCode(setup.secret, step + 1) });

    await anon.auth.resendVerification.mutate({ email: acc.email });
    await anon.auth.requestPasswordReset.mutate({ email: acc.email });
    const token = linkToken(await sink.next(acc.email, "Reset"), "reset-password");
    await anon.auth.resetPassword.mutate({ token, new_password: "trpc-new-password" });
    expect(await statusOf(authed.auth.me.query({}))).toBe(401);
    await anon.auth.login.mutate({ email: acc.email, password: "trpc-new-password" });
  });
});
