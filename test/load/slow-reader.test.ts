/**
 * Slow reader: a client that stops reading (a raw TCP WebSocket whose socket is paused, so the
 * kernel buffers fill) while ~16 MB of events are published for it is disconnected, never silently
 * skipped: what it did receive is a gap-free prefix of its stream, and reconnecting with
 * since=<last seq it processed> (on the other instance) replays exactly the rest, once, in order.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { openDatabase, type Database } from "../../src/db/client";
import { EventSink, writeEvents } from "../../src/realtime/event-log";
import { startCluster, type Cluster } from "../helpers/instances";
import { usingPostgres, usingRedis } from "../helpers/server";
import { WsClient } from "../realtime/ws-client";
import { createGroups, seedUsers } from "./harness";
import { RawWs } from "./raw-ws";

interface Durable {
  type: string;
  seq: number;
  data: { i?: number; message?: { id?: number } };
}

let cluster: Cluster | undefined;
let database: Database | undefined;

beforeAll(async () => {
  if (!usingPostgres || !usingRedis) return;
  cluster = await startCluster(2);
  database = await openDatabase({ databaseUrl: cluster.databaseUrl, maxConnections: 2 });
}, 120_000);

afterAll(async () => {
  await database?.close();
  await cluster?.stop();
});

const BLOBS = 64;
const BLOB = "x".repeat(256 * 1024);

test.skipIf(!usingPostgres || !usingRedis)(
  "a reader that stops reading is disconnected, and since= recovers every missed event once, in order",
  async () => {
    if (!cluster || !database) throw new Error("no cluster");
    const [A, B] = cluster.instances;
    if (!A || !B) throw new Error("two instances expected");
    const db = database.db;
    const [slow, watcher, writer] = await seedUsers(cluster.databaseUrl, 3);
    if (!slow || !watcher || !writer) throw new Error("users");
    // The watcher hears the slow user's presence through their private chat; the group carries messages.
    const privateChat = await fetch(`${A.url}/api/v1/chats`, {
      method: "POST",
      headers: { authorization: `Bearer ${watcher.token}`, "content-type": "application/json" },
      body: JSON.stringify({ type: "private", member_ids: [slow.id] }),
    });
    expect(privateChat.status).toBe(200);
    const [group] = await createGroups([B.url], [writer, slow], 2);
    if (!group) throw new Error("group");

    const watch = await WsClient.connect(B.url, watcher.token);
    const raw = await RawWs.open(A.url, `/ws?token=${slow.token}`);
    await raw.until(() => raw.json<{ type: string }>().some((f) => f.type === "ready"), 10_000);
    const readyFrame = raw.json<{ type: string; data: { seq: number } }>().find((f) => f.type === "ready");
    const since = Number(readyFrame?.data.seq);
    raw.pause();
    await watch.waitFor((f) => f.type === "presence" && f.data.user_id === slow.id && f.data.is_online === true, 10_000);

    // ~16 MB for the slow user: large notifications through the event log (the path transact
    // takes), with chat messages through REST on the other instance in between.
    const messageIds: number[] = [];
    for (let i = 0; i < BLOBS; i++) {
      await db.transaction(async (tx) => {
        const sink = new EventSink();
        sink.toUser(slow.id, "notification", { i, blob: BLOB });
        await writeEvents(tx, sink);
      });
      if (i % 8 === 0) {
        const res = await fetch(`${B.url}/api/v1/messages`, {
          method: "POST",
          headers: { authorization: `Bearer ${writer.token}`, "content-type": "application/json" },
          body: JSON.stringify({ chat_id: group.id, type: "text", text: `between ${i}` }),
        });
        expect(res.status).toBe(201);
        messageIds.push(((await res.json()) as { id: number }).id);
      }
    }

    // The server closes the socket: its user goes offline while the client still reads nothing.
    const off = await watch.waitFor((f) => f.type === "presence" && f.data.user_id === slow.id && f.data.is_online === false, 30_000);
    expect(off.data.last_seen_at).toBeString();

    // What the server holds for the slow user after `since`: the stream it owed.
    const owed: Durable[] = [];
    for (let at = since, more = true, pages = 0; more && pages < 100; pages++) {
      const res = await fetch(`${B.url}/api/v1/sync?since=${at}&limit=100`, { headers: { authorization: `Bearer ${slow.token}` } });
      expect(res.status).toBe(200);
      const page = (await res.json()) as { events: Durable[]; next_since: number; has_more: boolean };
      owed.push(...page.events);
      at = page.next_since;
      more = page.has_more;
    }
    const notifications = owed.filter((e) => e.type === "notification" && typeof e.data.i === "number").map((e) => e.data.i);
    expect(notifications).toEqual(Array.from({ length: BLOBS }, (_, i) => i));
    const created = owed.filter((e) => e.type === "message_created").map((e) => e.data.message?.id);
    expect(created).toEqual(messageIds);

    // Reading again: the kernel's buffered bytes, then the end of the connection.
    raw.resume();
    let deadline: ReturnType<typeof setTimeout> | undefined;
    const ended = await Promise.race([raw.ended.then(() => true), new Promise<boolean>((resolve) => (deadline = setTimeout(() => resolve(false), 30_000)))]);
    clearTimeout(deadline);
    expect(ended).toBe(true);
    const prefix = raw.json<Durable>().filter((f) => typeof f.seq === "number");
    expect(prefix.length).toBeLessThan(owed.length);
    expect(prefix.map((f) => f.seq)).toEqual(owed.slice(0, prefix.length).map((e) => e.seq));

    // Resume on the other instance from the last event processed.
    const lastProcessed = prefix.length ? (prefix[prefix.length - 1]?.seq ?? since) : since;
    const resumed = await WsClient.connect(B.url, slow.token, { since: lastProcessed });
    const replay = resumed.durable();
    const all = [...prefix.map((f) => f.seq), ...replay.map((f) => f.seq)];
    expect(all).toEqual(owed.map((e) => e.seq));
    expect(new Set(all).size).toBe(all.length);
    console.log(
      `slow reader: ${owed.length} events owed (${BLOBS} notifications of 256 KiB, ${messageIds.length} messages and their notifications), ${prefix.length} read before the server ` +
        `closed the socket (close frame ${raw.closeCode ?? "none"}), ${replay.length} replayed after since=${lastProcessed}, 0 lost, 0 duplicated`,
    );
    raw.destroy();
    await resumed.close();
    await watch.close();
  },
  120_000,
);
