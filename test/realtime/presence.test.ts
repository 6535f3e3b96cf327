import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { users } from "../../src/db/schema";
import { onlineUserIds, presenceAudience } from "../../src/realtime/presence";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { WsClient } from "./ws-client";

let server: TestServer;
let http: ReturnType<typeof client>;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let dave: TestUser;
let chatAB: number;

beforeAll(async () => {
  server = await startTestServer({ env: { PRESENCE_LEASE_SECONDS: "3" } });
  http = client(server.url);
  [alice, bob, carol, dave] = await Promise.all([createUser(server), createUser(server), createUser(server), createUser(server)]);
  chatAB = (await http.post("/chats", { token: alice.token, body: { type: "private", member_ids: [bob.id] } })).body.id;
  await http.post("/chats", { token: carol.token, body: { type: "private", member_ids: [alice.id] } });
  await http.post("/chats", { token: carol.token, body: { type: "private", member_ids: [dave.id] } });
}, 180_000);

afterAll(async () => {
  await server.stop();
});

const presenceOf = (c: WsClient, userId: number) => c.frames.map((f, i) => ({ f, at: c.times[i] as number })).filter(({ f }) => f.type === "presence" && f.data.user_id === userId);

describe("presence", () => {
  test("online while any connection is open; offline with last_seen_at on the last close", async () => {
    const watcher = await WsClient.connect(server.url, alice.token);
    const b1 = await WsClient.connect(server.url, bob.token);
    const on = await watcher.waitFor((f) => f.type === "presence" && f.data.user_id === bob.id && f.data.is_online);
    expect(on.data).toEqual({ user_id: bob.id, is_online: true, last_seen_at: null });
    expect(await onlineUserIds(server.app, [bob.id, carol.id])).toEqual(new Set([bob.id]));
    expect((await http.get(`/chats/${chatAB}`, { token: alice.token })).body.counterpart_is_online).toBe(true);

    const b2 = await WsClient.connect(server.url, bob.token);
    await b1.close();
    expect(await onlineUserIds(server.app, [bob.id])).toEqual(new Set([bob.id]));
    await b2.close();
    const off = await watcher.waitFor((f) => f.type === "presence" && f.data.user_id === bob.id && f.data.is_online === false);
    expect(off.data.last_seen_at).toMatch(/Z$/);
    expect(await onlineUserIds(server.app, [bob.id])).toEqual(new Set());
    const [row] = await server.app.db.select({ lastSeenAt: users.lastSeenAt }).from(users).where(eq(users.id, bob.id));
    expect(row?.lastSeenAt?.toISOString()).toBe(off.data.last_seen_at);
    // Exactly one online and one offline: closing b1 while b2 stayed open announced nothing.
    expect(presenceOf(watcher, bob.id).map(({ f }) => f.data.is_online)).toEqual([true, false]);
    await watcher.close();
  });

  test("a socket is reported online as soon as it is ready, even when the broker is slow", async () => {
    const people = await Promise.all(Array.from({ length: 6 }, () => createUser(server)));
    const broker = server.app.broker;
    const presenceSteps = broker.presenceSteps.bind(broker);
    // A slow broker: the lease lands well after the socket's database reads.
    broker.presenceSteps = async (steps, ttl) => {
      await Bun.sleep(150);
      return presenceSteps(steps, ttl);
    };
    try {
      // Each check runs the moment its socket's `ready` arrives.
      const seen = await Promise.all(
        people.map(async (p) => {
          const ws = await WsClient.connect(server.url, p.token);
          const online = await onlineUserIds(server.app, [p.id]);
          return { ws, online: online.has(p.id) };
        }),
      );
      expect(seen.map((s) => s.online)).toEqual(people.map(() => true));
      await Promise.all(seen.map((s) => s.ws.close()));
    } finally {
      broker.presenceSteps = presenceSteps;
    }
  });

  test("a hung broker holds a socket's ready back one second at most", async () => {
    const erin = await createUser(server);
    const broker = server.app.broker;
    const presenceSteps = broker.presenceSteps.bind(broker);
    // Hung until the test ends, then the broker "recovers" and the held calls complete.
    const held: (() => void)[] = [];
    broker.presenceSteps = (steps, ttl) => new Promise((resolve) => held.push(() => resolve(presenceSteps(steps, ttl))));
    try {
      const started = performance.now();
      const ws = await WsClient.connect(server.url, erin.token);
      expect(performance.now() - started).toBeLessThan(3000);
      await ws.close();
    } finally {
      broker.presenceSteps = presenceSteps;
      for (const release of held) release();
    }
  });

  test("changes are coalesced to at most one per user per second", async () => {
    const watcher = await WsClient.connect(server.url, alice.token);
    // Counted before bob connects: his online frame may reach the watcher before his own `ready`
    // reaches this test, and a count taken after the connect would skip it.
    const beforeBob = watcher.frames.length;
    const first = await WsClient.connect(server.url, bob.token);
    await watcher.waitFor((f) => f.type === "presence" && f.data.user_id === bob.id && f.data.is_online, 5000, beforeBob);
    await first.close();
    for (let i = 0; i < 5; i++) await (await WsClient.connect(server.url, bob.token)).close();
    const from = watcher.frames.length;
    await watcher.waitFor((f) => f.type === "presence" && f.data.user_id === bob.id && f.data.is_online === false, 8000, from);
    const frames = presenceOf(watcher, bob.id);
    for (let i = 1; i < frames.length; i++) expect((frames[i]?.at ?? 0) - (frames[i - 1]?.at ?? 0)).toBeGreaterThan(900);
    await watcher.close();
  });

  test("privacy_last_seen decides who hears presence", async () => {
    // carol shares private chats with alice and dave; dave is in carol's contacts, alice is not.
    expect((await http.post(`/users/${dave.id}/contacts`, { token: carol.token })).status).toBe(204);
    const audience = async () => (await presenceAudience(server.app, carol.id, (await server.app.db.select({ p: users.privacyLastSeen }).from(users).where(eq(users.id, carol.id)))[0]?.p ?? "everyone")).sort();
    expect(await audience()).toEqual([alice.id, dave.id].sort());
    expect((await http.put("/users/profile", { token: carol.token, body: { privacy_last_seen: "contacts" } })).status).toBe(200);
    expect(await audience()).toEqual([dave.id]);
    expect((await http.put("/users/profile", { token: carol.token, body: { privacy_last_seen: "nobody" } })).status).toBe(200);
    expect(await audience()).toEqual([]);

    // Live: with "contacts", dave hears carol come online and alice does not.
    expect((await http.put("/users/profile", { token: carol.token, body: { privacy_last_seen: "contacts" } })).status).toBe(200);
    const a = await WsClient.connect(server.url, alice.token);
    const d = await WsClient.connect(server.url, dave.token);
    const c = await WsClient.connect(server.url, carol.token);
    await d.waitFor((f) => f.type === "presence" && f.data.user_id === carol.id && f.data.is_online);
    // alice's socket is on the same instance and topic publishes are synchronous: had alice been in the
    // audience, her frame would have been written before dave's.
    a.send({ type: "ping" });
    await a.next("pong");
    expect(presenceOf(a, carol.id)).toHaveLength(0);
    // A blocked counterpart hears nothing either.
    expect((await http.post(`/users/${dave.id}/block`, { token: carol.token })).status).toBe(204);
    expect(await presenceAudience(server.app, carol.id, "everyone")).toEqual([alice.id]);
    await Promise.all([a.close(), d.close(), c.close()]);
  });
});
