/**
 * The session cache (src/auth/session-cache.ts) may only save lookups, never stretch a revocation
 * beyond the contract's second: refused at once where revoked, on another instance as soon as the
 * broker message arrives, and within one second even when no message comes at all.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq, inArray } from "drizzle-orm";
import { flushSessionUse } from "../../src/auth/last-used";
import { SessionCache } from "../../src/auth/session-cache";
import { sessions } from "../../src/db/schema";
import { client } from "../helpers/http";
import { startTestServer, usingPostgres, usingRedis, type TestServer } from "../helpers/server";
import { nextRevocationOn } from "../helpers/revocations";
import { createUser } from "../helpers/users";

const jtiOf = (jwt: string): string => JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString()).jti;

describe("SessionCache", () => {
  const session = { userId: 7, expiresAt: 10_000_000, lastUsedAt: 0 };

  test("trusts a confirmation for the TTL counted from when its lookup started", () => {
    const cache = new SessionCache(1000);
    cache.remember("s1", session, 5_000);
    expect(cache.get("s1", 5_999)?.userId).toBe(7);
    expect(cache.get("s1", 6_000)).toBeNull();
    expect(cache.size).toBe(0);
  });

  test("lapsed entries leave when new ones arrive, so idle sessions hold no memory", () => {
    const cache = new SessionCache(1000);
    for (let i = 0; i < 100; i++) cache.remember(`old${i}`, session, 1_000);
    cache.remember("fresh", session, 2_500);
    expect(cache.size).toBe(1);
    expect(cache.get("fresh", 2_600)?.userId).toBe(7);
  });

  test("never outlives the session's own expiry, forgets revoked ids, and is off at 0", () => {
    const cache = new SessionCache(1000);
    cache.remember("s1", { ...session, expiresAt: 5_500 }, 5_000);
    expect(cache.get("s1", 5_500)).toBeNull();
    cache.remember("s2", session, 5_000);
    cache.forget(["s2"]);
    expect(cache.get("s2", 5_001)).toBeNull();
    const off = new SessionCache(0);
    off.remember("s3", session, 5_000);
    expect(off.get("s3", 5_000)).toBeNull();
  });
});

describe("session cache over HTTP", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  test("a session confirmed a moment ago is refused at once after it is revoked here", async () => {
    const u = await createUser(server);
    const login = await client(server.url).post("/auth/login", { body: { email: u.email, password: u.password } });
    const other = login.body.access_token as string;
    expect((await client(server.url).get("/auth/me", { token: other })).status).toBe(200);
    expect((await client(server.url).delete(`/auth/sessions/${jtiOf(other)}`, { token: u.token })).status).toBe(204);
    expect((await client(server.url).get("/auth/me", { token: other })).status).toBe(401);
  });

  test("a session row deleted behind the server's back (no announcement) is refused one second later", async () => {
    const u = await createUser(server);
    expect((await client(server.url).get("/auth/me", { token: u.token })).status).toBe(200);
    await server.app.db.delete(sessions).where(eq(sessions.id, jtiOf(u.token)));
    await Bun.sleep(1000);
    expect((await client(server.url).get("/auth/me", { token: u.token })).status).toBe(401);
  });
});

describe("last_used_at", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  test("sessions idle for over a minute are marked used again, several in one batched write", async () => {
    const users = await Promise.all([createUser(server), createUser(server)]);
    const ids = users.map((u) => jtiOf(u.token));
    const longAgo = new Date(Date.now() - 10 * 60_000);
    await server.app.db.update(sessions).set({ lastUsedAt: longAgo }).where(inArray(sessions.id, ids));
    await Bun.sleep(server.app.config.SESSION_CACHE_MS); // the confirmations cached by createUser lapse
    for (const u of users) expect((await client(server.url).get("/auth/me", { token: u.token })).status).toBe(200);
    await flushSessionUse(server.app);
    const rows = await server.app.db.select({ lastUsedAt: sessions.lastUsedAt }).from(sessions).where(inArray(sessions.id, ids));
    expect(rows).toHaveLength(2);
    for (const r of rows) expect(r.lastUsedAt?.getTime() ?? 0).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe.skipIf(!(usingPostgres && usingRedis))("session cache on two instances", () => {
  let A: TestServer;
  let B: TestServer;
  beforeAll(async () => {
    A = await startTestServer();
    B = await startTestServer({ shareWith: A });
  });
  afterAll(async () => {
    await B.stop();
    await A.stop();
  });

  test("a revocation on A reaches B's cache through the broker", async () => {
    const u = await createUser(A);
    const login = await client(A.url).post("/auth/login", { body: { email: u.email, password: u.password } });
    const other = login.body.access_token as string;
    expect((await client(B.url).get("/auth/me", { token: other })).status).toBe(200);
    const arrived = await nextRevocationOn(B);
    expect((await client(A.url).delete(`/auth/sessions/${jtiOf(other)}`, { token: u.token })).status).toBe(204);
    // As soon as B has heard of it, B refuses, without waiting for the cached confirmation to lapse.
    expect(await arrived.ids).toContain(jtiOf(other));
    expect((await client(B.url).get("/auth/me", { token: other })).status).toBe(401);
  });
});
