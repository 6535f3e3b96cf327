/**
 * Wake-ups carry the committed events (src/realtime/wake-up.ts) so an idle tailer can deliver them
 * without reading the log. Frames must not depend on the path: the carried data is put in jsonb's
 * key order, and a live frame equals the same event replayed from the log byte for byte.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { queryRows } from "../../src/db/client";
import { decodeWakeUp, encodeWakeUp, jsonbOrder } from "../../src/realtime/wake-up";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { WsClient, type Frame } from "./ws-client";

let server: TestServer;
let http: ReturnType<typeof client>;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  [alice, bob] = await Promise.all([createUser(server), createUser(server)]);
}, 180_000);

afterAll(async () => {
  await server.stop();
});

test("carried data comes out in the key order jsonb gives back", async () => {
  const data = {
    zeta: 1,
    a: { longer_key: [{ y: 2, x: null }], k: "é", ä: true, b: "x" },
    message: { text: "naïve @bob 🙂", id: 7, sender_id: 3, type: "text", attachment_waveform: [3, 1, 2], created_at: "2026-01-01T00:00:00.000Z" },
    mm: -1.5,
  };
  const rows = await queryRows<{ v: unknown }>(server.app.db, sql`select ${JSON.stringify(data)}::jsonb as v`);
  const stored = rows[0]?.v;
  const fromDb = typeof stored === "string" ? stored : JSON.stringify(stored);
  expect(JSON.stringify(jsonbOrder(data))).toBe(JSON.stringify(JSON.parse(fromDb)));
});

test("a wake-up names its positions; too big a transaction only names the last", () => {
  const pending = [
    { chatId: 5, userId: null, type: "message_created" as const, data: { message: { id: 1 } } },
    { chatId: null, userId: 9, type: "notification" as const, data: { notification: { id: 2 } } },
  ];
  const wake = decodeWakeUp(encodeWakeUp(pending, 41));
  expect(wake?.last).toBe(41);
  expect(wake?.events?.map((e) => [e.seq, e.chatId, e.userId, e.type])).toEqual([
    [40, 5, null, "message_created"],
    [41, null, 9, "notification"],
  ]);
  const big = [{ chatId: 5, userId: null, type: "message_created" as const, data: { text: "x".repeat(40_000) } }];
  expect(encodeWakeUp(big, 99)).toBe("99");
  expect(decodeWakeUp("99")).toEqual({ last: 99 });
  expect(decodeWakeUp("{broken")).toBeNull();
});

test("a live frame equals the same event replayed from the log", async () => {
  const created = await http.post("/chats", { token: alice.token, body: { type: "group", title: "same bytes", member_ids: [bob.id] } });
  const chat: number = created.body.id;
  const live = await WsClient.connect(server.url, bob.token);
  const since = Number((await live.waitFor((f) => f.type === "ready")).data.seq);
  const sent = await http.post("/messages", { token: alice.token, body: { chat_id: chat, type: "text", text: "naïve 🙂 ä" } });
  expect(sent.status).toBe(201);
  const id: number = sent.body.id;
  expect((await http.put(`/messages/${id}`, { token: alice.token, body: { text: "edited é" } })).status).toBe(200);
  expect((await http.post(`/messages/${id}/reactions/toggle`, { token: bob.token, body: { emoji: "👍" } })).status).toBe(200);
  await live.waitFor((f) => f.type === "reactions_updated" && f.data.message_id === id);

  const replayed = await WsClient.connect(server.url, bob.token, { since });
  const ofMessage = (c: WsClient) =>
    c.durable().filter((f: Frame) => f.data.message?.id === id || f.data.message_id === id).map((f) => JSON.stringify(f));
  const liveFrames = ofMessage(live);
  expect(liveFrames).toHaveLength(3);
  expect(ofMessage(replayed)).toEqual(liveFrames);
  await Promise.all([live.close(), replayed.close()]);
});
