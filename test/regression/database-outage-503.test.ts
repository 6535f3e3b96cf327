/**
 * Regression (test/faults): while PostgreSQL is down,
 * - an authenticated request answered 500, not 503: the token is resolved while building the
 *   context, outside the procedures' error mapping (REST, tRPC, and the /ws upgrade alike);
 * - requests hung for up to 20 s and recovery after the outage took as long: postgres.js waits
 *   before each reconnect attempt, growing to 20 s by default, and queries queue behind it.
 * Runs in the PostgreSQL pass only, on a private server it can stop.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { privatePostgresAvailable, startPrivatePostgres, type PrivatePostgres } from "../helpers/private-services";
import { startTestServer, usingPostgres, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";

const enabled = usingPostgres && privatePostgresAvailable();

let pg: PrivatePostgres | undefined;
let server: TestServer | undefined;
let user: TestUser;

async function timed(url: string, init: RequestInit = {}): Promise<{ status: number; detail: unknown; ms: number }> {
  const started = performance.now();
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  const body = (await res.json().catch(() => null)) as { detail?: unknown; error?: { message?: unknown } } | null;
  return { status: res.status, detail: body?.detail ?? body?.error?.message, ms: performance.now() - started };
}

beforeAll(async () => {
  if (!enabled) return;
  pg = await startPrivatePostgres();
  server = await startTestServer({ env: { DATABASE_URL: pg.url } });
  user = await createUser(server);
}, 60_000);

afterAll(async () => {
  await server?.stop().catch(() => {});
  await pg?.destroy();
}, 30_000);

test.skipIf(!enabled)("PostgreSQL down: authenticated requests answer 503 fast, and recover by themselves", async () => {
  if (!server || !pg) throw new Error("not started");
  const base = server.url;
  const auth = { authorization: `Bearer ${user.token}` };
  await pg.stopImmediately();
  // Past the session cache's window, so every request must resolve its token in the database.
  await Bun.sleep(server.app.config.SESSION_CACHE_MS + 50);
  try {
    const rest = await timed(`${base}/api/v1/chats`, { headers: auth });
    expect(rest.status).toBe(503);
    expect(typeof rest.detail).toBe("string");
    const trpc = await timed(`${base}/trpc/chats.list?input=%7B%7D`, { headers: auth });
    expect(trpc.status).toBe(503);
    const ws = await timed(`${base}/ws?token=${encodeURIComponent(user.token)}`);
    expect(ws.status).toBe(503);
    expect(typeof ws.detail).toBe("string");
    // A longer outage: every answer stays fast however many reconnects have failed.
    const deadline = Date.now() + 8000;
    let slowest = 0;
    while (Date.now() < deadline) {
      const r = await timed(`${base}/api/v1/chats`, { headers: auth });
      expect(r.status).toBe(503);
      slowest = Math.max(slowest, r.ms);
      await Bun.sleep(100); // pacing
    }
    expect(slowest).toBeLessThan(2000);
  } finally {
    await pg.start();
  }
  // Recovery without a restart of the app, within about one reconnect delay.
  const restarted = Date.now();
  let status = 0;
  while (status !== 200 && Date.now() - restarted < 10_000) {
    status = (await timed(`${base}/api/v1/chats`, { headers: auth })).status;
    if (status !== 200) await Bun.sleep(100); // pacing
  }
  expect(status).toBe(200);
  expect(Date.now() - restarted).toBeLessThan(3000);
}, 60_000);
