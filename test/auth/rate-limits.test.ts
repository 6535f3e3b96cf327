import { afterAll, beforeAll, describe, expect, setSystemTime, test } from "bun:test";
import { client, type ApiResponse } from "../helpers/http";
import { startTestServer, usingRedis, type TestServer } from "../helpers/server";
import { createUser } from "../helpers/users";
import { uniqueAccount } from "./support";

let server: TestServer;
let http: ReturnType<typeof client>;

beforeAll(async () => {
  server = await startTestServer({
    env: {
      TRUST_PROXY: "true",
      LOGIN_RATE_LIMIT_PER_MINUTE: "3",
      REGISTER_RATE_LIMIT_PER_MINUTE: "2",
      REFRESH_RATE_LIMIT_PER_MINUTE: "3",
      RESET_RATE_LIMIT_PER_MINUTE: "2",
      FAILED_LOGIN_LIMIT_PER_HOUR: "3",
    },
  });
  http = client(server.url);
});
afterAll(() => {
  setSystemTime();
  return server.stop();
});

let ipCounter = 0;
const freshIp = () => `10.9.${Math.floor(++ipCounter / 250)}.${ipCounter % 250}`;
const from = (ip: string) => ({ "x-forwarded-for": `${ip}, 192.0.2.1` });

function expectLimited(r: ApiResponse, maxSeconds = 60) {
  expect(r.status).toBe(429);
  const retry = Number(r.headers.get("retry-after"));
  expect(retry).toBeGreaterThan(0);
  expect(retry).toBeLessThanOrEqual(maxSeconds);
  expect(r.body).toEqual({ detail: `Rate limit exceeded. Retry in ${retry} seconds.` });
}

/** One request of each limited kind from `ip`, as a function of the attempt number. */
const calls = {
  // A new email each time: the per-account failure limit must not be what trips.
  login: (ip: string) => http.post("/auth/login", { body: { email: uniqueAccount("nobody").email, password: "whatever-pass" }, headers: from(ip) }),
  register: (ip: string) => http.post("/auth/register", { body: uniqueAccount("rl"), headers: from(ip) }),
  refresh: (ip: string) => http.post("/auth/refresh", { body: { refresh_token: "not.a.token" }, headers: from(ip) }),
  reset: (ip: string) => http.post("/auth/request-password-reset", { body: { email: "nobody@example.com" }, headers: from(ip) }),
};
const limits = { login: 3, register: 2, refresh: 3, reset: 2 } as const;
const allowedStatus = { login: 401, register: 201, refresh: 401, reset: 200 } as const;

describe("per-IP limits trip at their configured number", () => {
  for (const kind of ["login", "register", "refresh", "reset"] as const) {
    test(`${kind}: ${limits[kind]} pass, the next is 429; other IPs are unaffected`, async () => {
      const ip = freshIp();
      for (let i = 0; i < limits[kind]; i++) expect((await calls[kind](ip)).status).toBe(allowedStatus[kind]);
      expectLimited(await calls[kind](ip));
      expect((await calls[kind](freshIp())).status).toBe(allowedStatus[kind]);
    });
  }

  test("resend-verification, request-password-reset and reset-password share the reset limit", async () => {
    const ip = freshIp();
    expect((await http.post("/auth/resend-verification", { body: { email: "x@example.com" }, headers: from(ip) })).status).toBe(200);
    expect((await http.post("/auth/request-password-reset", { body: { email: "x@example.com" }, headers: from(ip) })).status).toBe(200);
    expectLimited(await http.post("/auth/reset-password", { body: { token: "t", new_password: "long-enough" }, headers: from(ip) }));
    expectLimited(await http.post("/auth/resend-verification", { body: { email: "x@example.com" }, headers: from(ip) }));
  });

  test("the same limits hold through the tRPC endpoint", async () => {
    const ip = freshIp();
    const trpcLogin = () =>
      fetch(`${server.url}/trpc/auth.login`, {
        method: "POST",
        headers: { "content-type": "application/json", ...from(ip) },
        body: JSON.stringify({ email: uniqueAccount("nobody").email, password: "whatever-pass" }),
      });
    for (let i = 0; i < limits.login; i++) expect((await trpcLogin()).status).toBe(401);
    const limited = await trpcLogin();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
  });
});

describe("limits recover after their window", () => {
  test(
    "every per-IP limit lets requests through again",
    async () => {
      const ip = freshIp();
      let longest = 0;
      for (const kind of ["login", "register", "refresh", "reset"] as const) {
        for (let i = 0; i < limits[kind]; i++) await calls[kind](ip);
        const limited = await calls[kind](ip);
        expectLimited(limited);
        longest = Math.max(longest, Number(limited.headers.get("retry-after")));
      }
      // Redis keeps its own clock; the in-process broker follows the (mocked) system clock.
      if (usingRedis) await Bun.sleep(longest * 1000 + 200);
      else setSystemTime(new Date(Date.now() + (longest + 1) * 1000));
      try {
        for (const kind of ["login", "register", "refresh", "reset"] as const) expect((await calls[kind](ip)).status).toBe(allowedStatus[kind]);
      } finally {
        setSystemTime();
      }
    },
    { timeout: 180_000 },
  );
});

describe("failed logins per account", () => {
  test("the limit locks the account from every IP, even with the right password; other accounts are unaffected", async () => {
    const u = await createUser(server);
    const other = await createUser(server);
    for (let i = 0; i < 3; i++) {
      const r = await http.post("/auth/login", { body: { email: u.email, password: "wrong-password" }, headers: from(freshIp()) });
      expect(r.status).toBe(401);
    }
    const locked = await http.post("/auth/login", { body: { email: u.email, password: u.password }, headers: from(freshIp()) });
    expectLimited(locked, 3600);
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(60);
    const fine = await http.post("/auth/login", { body: { email: other.email, password: other.password }, headers: from(freshIp()) });
    expect(fine.status).toBe(200);
  });

  test("unknown emails are counted the same way, so the lock reveals nothing", async () => {
    const email = `ghost${Date.now()}@example.com`;
    for (let i = 0; i < 3; i++) {
      expect((await http.post("/auth/login", { body: { email, password: "wrong-password" }, headers: from(freshIp()) })).status).toBe(401);
    }
    expectLimited(await http.post("/auth/login", { body: { email, password: "wrong-password" }, headers: from(freshIp()) }), 3600);
  });
});
