import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { queryRows } from "../../src/db/client";
import { transact } from "../../src/db/transact";
import { EventSink, writeEvents } from "../../src/realtime/event-log";
import { pruneEventLog } from "../../src/realtime/replay";
import { client } from "../helpers/http";
import { startTestServer, usingPostgres, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { WsClient, type Frame } from "./ws-client";

let server: TestServer;
let http: ReturnType<typeof client>;
let alice: TestUser;
let bob: TestUser;
let group: number;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  [alice, bob] = await Promise.all([createUser(server), createUser(server)]);
  const r = await http.post("/chats", { token: alice.token, body: { type: "group", title: "resume", member_ids: [bob.id] } });
  group = r.body.id;
}, 180_000);

afterAll(async () => {
  await server.stop();
});

/** Every page of GET /sync after `since`. */
async function syncAll(token: string, since: number, limit = 100): Promise<{ events: Frame[]; next: number }> {
  const events: Frame[] = [];
  let at = since;
  for (;;) {
    const r = await http.get(`/sync?since=${at}&limit=${limit}`, { token });
    expect(r.status).toBe(200);
    events.push(...r.body.events);
    at = r.body.next_since;
    if (!r.body.has_more) return { events, next: at };
  }
}

/** The comparable part of a frame: type, position, and the shared payload (not the receiver's counters). */
const shape = (f: Frame) => ({ type: f.type, seq: f.seq, message: f.data.message, message_id: f.data.message_id, chat_id: f.data.chat_id ?? f.data.chat?.id });

/**
 * Waits until the server's tailer has published every event committed so far (the `ready` position
 * reaches the log's head), so events written in beforeAll cannot surface after a test's `since`.
 */
async function tailerSettled(token: string): Promise<void> {
  const head = (await syncAll(token, 0)).next;
  for (let i = 0; i < 200; i++) {
    const probe = await WsClient.connect(server.url, token);
    const at = Number((await probe.waitFor((f) => f.type === "ready")).data.seq);
    await probe.close();
    if (at >= head) return;
    await Bun.sleep(25);
  }
  throw new Error("tailer never reached the log head");
}

describe("resume", () => {
  test("since= replays exactly the missed events, in order, then goes live; /sync and tRPC agree", async () => {
    await tailerSettled(bob.token);
    const watcher = await WsClient.connect(server.url, bob.token);
    const first = await WsClient.connect(server.url, bob.token);
    const ready = await first.waitFor((f) => f.type === "ready");
    const since = Number(ready.data.seq);
    await first.close();

    // Missed while offline: chat events, a user event of bob's own, and events of a chat bob is not in.
    const m1 = (await http.post("/messages", { token: alice.token, body: { chat_id: group, type: "text", text: "one" } })).body.id;
    const m2 = (await http.post("/messages", { token: alice.token, body: { chat_id: group, type: "text", text: "two" } })).body.id;
    expect((await http.put(`/messages/${m1}`, { token: alice.token, body: { text: "one!" } })).status).toBe(200);
    expect((await http.post(`/messages/${m2}/reactions/toggle`, { token: alice.token, body: { emoji: "🎉" } })).status).toBe(200);
    expect((await http.delete(`/messages/${m2}?for_all=false`, { token: bob.token })).status).toBe(204);
    const other = (await http.post("/chats", { token: alice.token, body: { type: "group", title: "not bob's" } })).body.id;
    await http.post("/messages", { token: alice.token, body: { chat_id: other, type: "text", text: "private to alice" } });
    const m3 = (await http.post("/messages", { token: alice.token, body: { chat_id: group, type: "text", text: "three" } })).body.id;
    await watcher.waitFor((f) => f.type === "message_created" && f.data.message.id === m3);
    const live = watcher.durable().filter((f) => (f.seq as number) > since);

    const resumed = await WsClient.connect(server.url, bob.token, { since });
    const replayed = resumed.durable();
    // The live stream minus what carries m2, which bob has deleted for himself since: a replay does
    // not hand back a message the user cannot see now (its deletion still comes).
    const carriesM2 = (f: Frame) => ["message_created", "message_updated", "reactions_updated"].includes(f.type) && (f.data.message?.id ?? f.data.message_id) === m2;
    expect(live.filter(carriesM2).map((f) => f.type)).toEqual(["message_created", "reactions_updated"]);
    expect(replayed.map(shape)).toEqual(live.filter((f) => !carriesM2(f)).map(shape));
    expect(replayed.map((f) => f.type).filter((t) => t !== "notification")).toEqual(["message_created", "message_updated", "message_deleted", "message_created"]);
    expect(replayed.some((f) => f.data.message?.chat_id === other)).toBe(false);
    // The deleted-for-me event carries bob's counters; message_created carries them too.
    const messageFrames = replayed.filter((f) => f.type !== "notification");
    expect(messageFrames[2]?.data).toMatchObject({ chat_id: group, message_id: m2, unread_count: expect.any(Number) });
    expect(messageFrames[3]?.data.unread_count).toBeNumber();
    const readyAfter = resumed.frames.findIndex((f) => f.type === "ready");
    expect(readyAfter).toBe(resumed.frames.length - 1);

    // Then live, without duplicates.
    const m4 = (await http.post("/messages", { token: alice.token, body: { chat_id: group, type: "text", text: "four" } })).body.id;
    await resumed.waitFor((f) => f.type === "message_created" && f.data.message.id === m4);
    const seqs = resumed.durable().map((f) => f.seq);
    expect(new Set(seqs).size).toBe(seqs.length);

    // The same list over HTTP, whole and in pages, and through tRPC.
    const viaSync = await syncAll(bob.token, since);
    expect(viaSync.events.slice(0, replayed.length).map(shape)).toEqual(replayed.map(shape));
    const paged = await syncAll(bob.token, since, 2);
    expect(paged.events.map(shape)).toEqual(viaSync.events.map(shape));
    const trpc = await fetch(`${server.url}/trpc/sync.get?input=${encodeURIComponent(JSON.stringify({ since, limit: 100 }))}`, {
      headers: { authorization: `Bearer ${bob.token}` },
    });
    const body = (await trpc.json()) as { result: { data: { events: Frame[] } } };
    expect(body.result.data.events.map(shape)).toEqual(viaSync.events.map(shape));
    // Nothing after next_since: it is the end of bob's visible log.
    const after = await http.get(`/sync?since=${viaSync.next}`, { token: bob.token });
    expect(after.body).toMatchObject({ events: [], has_more: false, next_since: viaSync.next });

    await Promise.all([watcher.close(), resumed.close()]);
  });

  test("GET /sync validates its input and needs a token", async () => {
    expect((await http.get("/sync?since=0")).status).toBe(401);
    expect((await http.get("/sync?since=-1", { token: bob.token })).status).toBe(422);
    expect((await http.get("/sync?since=0&limit=0", { token: bob.token })).status).toBe(422);
    expect((await http.get("/sync?since=0&limit=101", { token: bob.token })).status).toBe(422);
    expect((await http.get("/sync", { token: bob.token })).status).toBe(422);
  });

  test.skipIf(!usingPostgres)("positions taken earlier but committed later are never skipped (live and replay)", async () => {
    const watcher = await WsClient.connect(server.url, bob.token);
    const since = Number((await watcher.waitFor((f) => f.type === "ready")).data.seq);
    let release = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let drawn = (_: number) => {};
    const drawnSeq = new Promise<number>((r) => (drawn = r));
    // T1 draws its position and holds its commit open.
    const t1 = server.app.db.transaction(async (tx) => {
      const sink = new EventSink();
      sink.toUser(bob.id, "notification", { n: "first" });
      drawn((await writeEvents(tx, sink)) ?? 0);
      await gate;
    });
    const s1 = await drawnSeq;
    // T2 starts later; it must not be able to commit a higher position before T1.
    let t2Done = false;
    const t2 = transact(server.app, async (_tx, events) => {
      events.toUser(bob.id, "notification", { n: "second" });
    }).then(() => (t2Done = true));
    // Wait until T2 is queued behind T1's event-log lock.
    for (;;) {
      const rows = await queryRows<{ n: string | number }>(server.app.db, sql`select count(*) as n from pg_locks where locktype = 'advisory' and not granted`);
      if (Number(rows[0]?.n) >= 1) break;
      await Bun.sleep(10);
    }
    expect(t2Done).toBe(false);
    // Meanwhile a replay and the sync endpoint see neither event (nothing committed yet).
    expect((await http.get(`/sync?since=${since}`, { token: bob.token })).body.events).toEqual([]);
    release();
    await Promise.all([t1, t2]);
    const second = await watcher.waitFor((f) => f.type === "notification" && f.data.n === "second");
    const firstFrame = watcher.frames.find((f) => f.type === "notification" && f.data.n === "first");
    expect(firstFrame?.seq).toBe(s1);
    expect(second.seq as number).toBeGreaterThan(s1);
    expect(watcher.frames.indexOf(firstFrame as Frame)).toBeLessThan(watcher.frames.indexOf(second));
    const replay = await WsClient.connect(server.url, bob.token, { since });
    expect(replay.durable().map((f) => f.data.n)).toEqual(["first", "second"]);
    await Promise.all([watcher.close(), replay.close()]);
  });

  test("a since older than retention gets resync_required (WebSocket) and 410 (HTTP)", async () => {
    const probe = await WsClient.connect(server.url, bob.token);
    const old = Number((await probe.waitFor((f) => f.type === "ready")).data.seq);
    await probe.close();
    await http.post("/messages", { token: alice.token, body: { chat_id: group, type: "text", text: "soon pruned" } });
    // Prune everything written so far, as if it were older than 7 days.
    const through = await pruneEventLog(server.app.db, new Date(Date.now() + 60_000));
    expect(through).toBeGreaterThan(old);
    const gone = await http.get(`/sync?since=${old}`, { token: bob.token });
    expect(gone.status).toBe(410);
    expect(gone.body.detail).toBeString();
    const ws = await WsClient.connect(server.url, bob.token, { since: old });
    expect(ws.frames[0]?.type).toBe("resync_required");
    expect(ws.frames[ws.frames.length - 1]?.type).toBe("ready");
    await ws.close();
    // Resuming from the floor itself is fine; from beyond the log's end is not.
    expect((await http.get(`/sync?since=${through}`, { token: bob.token })).status).toBe(200);
    expect((await http.get(`/sync?since=${through + 1_000_000}`, { token: bob.token })).status).toBe(410);
    // Over tRPC the same refusal is PRECONDITION_FAILED (tRPC has no 410), never NOT_FOUND.
    const viaTrpc = await fetch(`${server.url}/trpc/sync.get?input=${encodeURIComponent(JSON.stringify({ since: old }))}`, {
      headers: { authorization: `Bearer ${bob.token}` },
    });
    const body = (await viaTrpc.json()) as { error: { data: { code: string; detail: string } } };
    expect([viaTrpc.status, body.error.data.code]).toEqual([412, "PRECONDITION_FAILED"]);
    expect(body.error.data.detail).toBe(gone.body.detail);
  });

  test("a since beyond the log's end is refused as such, not as pruned events (HTTP and WebSocket)", async () => {
    const probe = await WsClient.connect(server.url, bob.token);
    const head = Number((await probe.waitFor((f) => f.type === "ready")).data.seq);
    await probe.close();
    const ahead = head + 1_000_000;
    const refused = await http.get(`/sync?since=${ahead}`, { token: bob.token });
    expect(refused.status).toBe(410);
    expect(refused.body.detail).toBe("This position is beyond the newest event (from another server, or before a reset): reload your state");
    const ws = await WsClient.connect(server.url, bob.token, { since: ahead });
    expect(ws.frames[0]?.type).toBe("resync_required");
    expect(ws.frames[0]?.data.detail).toBe(refused.body.detail);
    await ws.close();
  });
});
