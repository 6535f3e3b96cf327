/**
 * Issue 11 §3: the WebSocket upgrade checks Origin against WS_ALLOWED_ORIGINS; a tRPC batch is
 * capped in size and every call in it counts against the rate limits.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { MAX_TRPC_BATCH } from "../../src/server";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";

let server: TestServer;
let user: TestUser;

beforeAll(async () => {
  server = await startTestServer({ env: { WS_ALLOWED_ORIGINS: "https://app.example.com,http://localhost:5173", LOGIN_RATE_LIMIT_PER_MINUTE: "3", TRUST_PROXY: "true" } });
  user = await createUser(server);
}, 120_000);
afterAll(() => server.stop());

const upgradeHeaders = { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" };

describe("WebSocket Origin allow-list", () => {
  test("a listed Origin upgrades", async () => {
    const r = await fetch(`${server.url}/ws?token=${user.token}`, { headers: { ...upgradeHeaders, origin: "https://app.example.com" } });
    expect(r.status).toBe(101);
  });
  test("an unlisted Origin is refused with 403 {detail} before the upgrade", async () => {
    const r = await fetch(`${server.url}/ws?token=${user.token}`, { headers: { ...upgradeHeaders, origin: "https://evil.example.com" } });
    expect(r.status).toBe(403);
    expect(Object.keys((await r.json()) as object)).toEqual(["detail"]);
  });
  test("clients without an Origin (not browsers) are let through", async () => {
    const r = await fetch(`${server.url}/ws?token=${user.token}`, { headers: upgradeHeaders });
    expect(r.status).toBe(101);
  });
});

describe("tRPC batches", () => {
  const batchUrl = (n: number, proc = "health.check") =>
    `${server.url}/trpc/${Array(n).fill(proc).join(",")}?batch=1&input=${encodeURIComponent(JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [i, {}]))))}`;

  test(`a batch of ${MAX_TRPC_BATCH} calls runs`, async () => {
    const r = await fetch(batchUrl(MAX_TRPC_BATCH));
    expect(r.status).toBe(200);
    expect(((await r.json()) as unknown[]).length).toBe(MAX_TRPC_BATCH);
  });

  test(`a batch of ${MAX_TRPC_BATCH + 1} calls is refused whole`, async () => {
    const r = await fetch(batchUrl(MAX_TRPC_BATCH + 1));
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(await r.text()).not.toContain('"status":"ok"');
  });

  test("each call of a batch counts against the login rate limit", async () => {
    const body = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [i, { email: user.email, password: user.password }]));
    const r = await fetch(`${server.url}/trpc/${Array(5).fill("auth.login").join(",")}?batch=1`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-forwarded-for": "203.0.113.9" },
      body: JSON.stringify(body),
    });
    const results = (await r.json()) as { result?: unknown; error?: { data?: { httpStatus?: number } } }[];
    expect(results).toHaveLength(5);
    expect(results.filter((x) => x.result !== undefined)).toHaveLength(3);
    expect(results.filter((x) => x.error?.data?.httpStatus === 429)).toHaveLength(2);
  });
});
