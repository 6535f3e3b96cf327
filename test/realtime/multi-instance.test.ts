/**
 * Several server processes sharing PostgreSQL and Redis: fan-out, order, presence, resume on another
 * instance, revocation, and a crashed instance (kill -9) whose users go offline by lease expiry.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startCluster, type Cluster, type Instance } from "../helpers/instances";
import { client } from "../helpers/http";
import { usingPostgres, usingRedis } from "../helpers/server";
import { WsClient, type Frame } from "./ws-client";

const enabled = usingPostgres && usingRedis;
const LEASE_SECONDS = 3;

interface User {
  id: number;
  email: string;
  password: string;
  token: string;
}

let cluster: Cluster;
let A: Instance;
let B: Instance;
let counter = 0;

async function newUser(via: Instance): Promise<User> {
  counter += 1;
  const tag = `${Date.now().toString(36)}${counter}${Math.random().toString(36).slice(2, 5)}`;
  const http = client(via.url);
  const email = `mi_${tag}@example.com`;
  const password = "correct-horse-battery";
  const reg = await http.post("/auth/register", { body: { email, name: `MI ${tag}`, username: `mi_${tag}`, password } });
  if (reg.status !== 201) throw new Error(`register: ${reg.status} ${reg.text}`);
  const login = await http.post("/auth/login", { body: { email, password } });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${login.text}`);
  const me = await http.get("/auth/me", { token: login.body.access_token });
  return { id: me.body.id, email, password, token: login.body.access_token };
}

async function send(via: Instance, user: User, chatId: number, text: string): Promise<number> {
  const r = await client(via.url).post("/messages", { token: user.token, body: { chat_id: chatId, type: "text", text } });
  if (r.status !== 201) throw new Error(`send: ${r.status} ${r.text}`);
  return r.body.id;
}

const createdIds = (c: WsClient, chatId: number) =>
  c.frames.filter((f) => f.type === "message_created" && f.data.message.chat_id === chatId).map((f) => f.data.message.id as number);

describe.skipIf(!enabled)("several instances", () => {
  beforeAll(async () => {
    cluster = await startCluster(2, { REQUIRE_EMAIL_VERIFICATION: "false", PRESENCE_LEASE_SECONDS: String(LEASE_SECONDS) });
    [A, B] = cluster.instances as [Instance, Instance];
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  test("events made through either instance reach every socket on both, in the same order", async () => {
    const [alice, bob, carol] = await Promise.all([newUser(A), newUser(B), newUser(A)]);
    const chat = (await client(A.url).post("/chats", { token: alice.token, body: { type: "group", title: "cluster", member_ids: [bob.id, carol.id] } })).body.id;
    const sockets = await Promise.all([
      WsClient.connect(A.url, alice.token),
      WsClient.connect(B.url, bob.token),
      WsClient.connect(A.url, carol.token),
      WsClient.connect(B.url, carol.token),
    ]);
    // Concurrent writers on both instances.
    const sent = await Promise.all(
      Array.from({ length: 20 }, (_, i) => send(i % 2 === 0 ? A : B, i % 3 === 0 ? bob : alice, chat, `m${i}`)),
    );
    await Promise.all(sockets.map((s) => waitUntil(() => sent.every((id) => createdIds(s, chat).includes(id)), s)));
    const orders = sockets.map((s) => createdIds(s, chat));
    for (const o of orders) expect(o).toEqual(orders[0] as number[]);
    expect([...(orders[0] as number[])].sort((x, y) => x - y)).toEqual([...sent].sort((x, y) => x - y));
    const seqLists = sockets.map((s) => s.durable().filter((f) => f.type === "message_created").map((f) => f.seq));
    for (const l of seqLists) expect(l).toEqual(seqLists[0] as (number | undefined)[]);
    await Promise.all(sockets.map((s) => s.close()));
  });

  test("resume on another instance: events made through B are replayed exactly after since=, and /sync agrees", async () => {
    const [alice, bob] = await Promise.all([newUser(A), newUser(A)]);
    const chat = (await client(A.url).post("/chats", { token: alice.token, body: { type: "group", title: "resume", member_ids: [bob.id] } })).body.id;
    const first = await WsClient.connect(A.url, bob.token);
    const since = Number((await first.waitFor((f) => f.type === "ready")).data.seq);
    await first.close();
    const m1 = await send(B, alice, chat, "one");
    const m2 = await send(B, alice, chat, "two");
    expect((await client(B.url).put(`/messages/${m1}`, { token: alice.token, body: { text: "one!" } })).status).toBe(200);
    expect((await client(B.url).delete(`/messages/${m2}?for_all=true`, { token: alice.token })).status).toBe(204);
    const resumed = await WsClient.connect(A.url, bob.token, { since });
    // `ready` carries A's tailer position, which may still be just before the chat's creation (its
    // chat_updated then comes in the replay too): the messages made through B are what is checked.
    // m2 was deleted for all meanwhile: its creation is not replayed (its text must not reach anyone
    // any more), its deletion is.
    const replay = resumed.durable().filter((f) => f.type.startsWith("message_"));
    expect(replay.map((f) => [f.type, f.data.message?.id ?? f.data.message_id])).toEqual([
      ["message_created", m1],
      ["message_updated", m1],
      ["message_deleted", m2],
    ]);
    const sync = await client(B.url).get(`/sync?since=${since}`, { token: bob.token });
    expect(sync.status).toBe(200);
    expect((sync.body.events as Frame[]).map((f) => [f.type, f.seq])).toEqual(resumed.durable().map((f) => [f.type, f.seq]));
    // And live from here, with what happens through B.
    const m3 = await send(B, alice, chat, "three");
    await resumed.waitFor((f) => f.type === "message_created" && f.data.message.id === m3);
    await resumed.close();
  });

  test("presence follows connections on any instance; a revoked session closes on the other instance", async () => {
    const [alice, bob] = await Promise.all([newUser(A), newUser(B)]);
    const chat = (await client(A.url).post("/chats", { token: alice.token, body: { type: "private", member_ids: [bob.id] } })).body.id;
    const watcher = await WsClient.connect(A.url, alice.token);
    const b = await WsClient.connect(B.url, bob.token);
    const online = await watcher.waitFor((f) => f.type === "presence" && f.data.user_id === bob.id && f.data.is_online === true);
    expect(online.seq).toBeUndefined();
    const read = await client(A.url).get(`/chats/${chat}`, { token: alice.token });
    expect(read.body.counterpart_is_online).toBe(true);

    const jti = ((await client(B.url).get("/auth/sessions", { token: bob.token })).body as { jti: string; current: boolean }[]).find((s) => s.current)?.jti;
    const second = await client(A.url).post("/auth/login", { body: { email: bob.email, password: bob.password } });
    const started = performance.now();
    expect((await client(A.url).delete(`/auth/sessions/${jti}`, { token: second.body.access_token })).status).toBe(204);
    expect((await b.closed).code).toBe(4001);
    expect(performance.now() - started).toBeLessThan(1000);

    const offline = await watcher.waitFor((f) => f.type === "presence" && f.data.user_id === bob.id && f.data.is_online === false, 5000);
    expect(offline.data.last_seen_at).toBeString();
    await watcher.close();
  });

  /** A new instance C with bob on it, his private-chat partner alice watching from A, bob announced online. */
  async function partnerOnThirdInstance() {
    const C = await cluster.spawn();
    const [alice, bob] = await Promise.all([newUser(A), newUser(C)]);
    await client(A.url).post("/chats", { token: alice.token, body: { type: "private", member_ids: [bob.id] } });
    const watcher = await WsClient.connect(A.url, alice.token);
    const b = await WsClient.connect(C.url, bob.token);
    await watcher.waitFor((f) => f.type === "presence" && f.data.user_id === bob.id && f.data.is_online === true);
    return { C, bob, watcher, b };
  }

  test("SIGTERM: an instance that stops announces its users offline to partners on other instances", async () => {
    const { C, bob, watcher, b } = await partnerOnThirdInstance();
    // Past the one-second announcement gate of the online announcement.
    await Bun.sleep(1100);
    const stoppedAt = performance.now();
    await C.kill("SIGTERM");
    expect((await b.closed).code).toBe(1001);
    // Well inside the lease time: it comes from the close, not from a sweep.
    const offline = await watcher.waitFor((f) => f.type === "presence" && f.data.user_id === bob.id && f.data.is_online === false, (LEASE_SECONDS - 1) * 1000);
    expect(performance.now() - stoppedAt).toBeLessThan((LEASE_SECONDS - 1) * 1000);
    expect(offline.data.last_seen_at).toBeString();
    await watcher.close();
  });

  test("kill -9: the crashed instance's users go offline within the lease time", async () => {
    const { C, bob, watcher, b } = await partnerOnThirdInstance();
    const killedAt = performance.now();
    await C.kill("SIGKILL");
    await b.closed;
    const offline = await watcher.waitFor((f) => f.type === "presence" && f.data.user_id === bob.id && f.data.is_online === false, (LEASE_SECONDS + 5) * 1000);
    const elapsed = performance.now() - killedAt;
    // Lease expiry, plus one sweep period and the one-second coalescing gate at most.
    expect(elapsed).toBeLessThan((LEASE_SECONDS + 2.5) * 1000);
    expect(offline.data.last_seen_at).toBeString();
    await watcher.close();
  });
});

/** Resolves when `check()` holds; re-checked on each frame `c` receives (no sleeping). */
async function waitUntil(check: () => boolean, c: WsClient, timeoutMs = 10_000): Promise<void> {
  if (check()) return;
  await c.waitFor(() => check(), timeoutMs, c.frames.length);
}
