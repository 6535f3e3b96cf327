/**
 * Live frames' unread counters are kept in step with the log (src/realtime/live-counters.ts)
 * instead of being counted per event. Whatever happens in the chat, each frame's counters must
 * equal the exact ChatRead counters (GET /chats/{id}) at that moment: more unread messages than an
 * entry keeps individually, mentions (also added by an edit), a read into the older part, deletes
 * for everyone and for the receiver only, the receiver's own messages and a cleared history.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { WsClient, type Frame } from "./ws-client";

let server: TestServer;
let http: ReturnType<typeof client>;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  [alice, bob, carol] = await Promise.all([createUser(server), createUser(server), createUser(server)]);
}, 180_000);

afterAll(async () => {
  await server.stop();
});

async function sendText(user: TestUser, chatId: number, text: string): Promise<number> {
  const r = await http.post("/messages", { token: user.token, body: { chat_id: chatId, type: "text", text } });
  if (r.status !== 201) throw new Error(`send: ${r.status} ${r.text}`);
  return r.body.id;
}

async function exact(user: TestUser, chatId: number): Promise<{ unread_count: number; unread_mentions_count: number }> {
  const r = await http.get(`/chats/${chatId}`, { token: user.token });
  expect(r.status).toBe(200);
  return { unread_count: r.body.unread_count, unread_mentions_count: r.body.unread_mentions_count };
}

const countersIn = (f: Frame) => ({ unread_count: f.data.unread_count, unread_mentions_count: f.data.unread_mentions_count });

test("every live frame carries the exact counters through reads, deletes, edits and clearing", async () => {
  const created = await http.post("/chats", { token: alice.token, body: { type: "group", title: "counters", member_ids: [bob.id, carol.id] } });
  const chat: number = created.body.id;
  const b = await WsClient.connect(server.url, bob.token);
  const expectFrame = async (pred: (f: Frame) => boolean) => {
    const f = await b.waitFor(pred);
    expect(countersIn(f)).toEqual(await exact(bob, chat));
    return f;
  };
  const createdFrame = (id: number) => expectFrame((f) => f.type === "message_created" && f.data.message?.id === id);

  // More unread messages than an entry keeps one by one (32), one of them mentioning bob.
  const ids: number[] = [];
  for (let i = 0; i < 40; i++) {
    const id = await sendText(i % 2 ? carol : alice, chat, i === 3 ? `hi @${bob.username}` : `m${i}`);
    ids.push(id);
    const f = await createdFrame(id);
    expect(f.data.unread_count).toBe(i + 1);
  }
  expect((await exact(bob, chat)).unread_mentions_count).toBe(1);

  // A read into the part kept only as a number, then a read among the kept ids.
  const read = async (messageId: number) => {
    const r = await http.post("/messages/status", { token: bob.token, body: { chat_id: chat, message_id: messageId, status: "message_read" } });
    expect(r.status).toBe(200);
    return expectFrame((f) => f.type === "message_read" && f.data.user_id === bob.id && f.data.message_id === messageId);
  };
  expect((await read(ids[4] ?? 0)).data.unread_count).toBe(35);
  expect((await read(ids[9] ?? 0)).data.unread_count).toBe(30);

  const forAll = await http.delete(`/messages/${ids[20]}?for_all=true`, { token: alice.token });
  expect(forAll.status).toBe(204);
  expect((await expectFrame((f) => f.type === "message_deleted" && f.data.message_id === ids[20])).data.unread_count).toBe(29);

  const forMe = await http.delete(`/messages/${ids[30]}`, { token: bob.token });
  expect(forMe.status).toBe(204);
  expect((await expectFrame((f) => f.type === "message_deleted" && f.data.message_id === ids[30])).data.unread_count).toBe(28);

  // Edits that add, remove and add again a mention of bob in an unread message: each
  // message_updated frame carries the counters after it (expectFrame compares with the ChatRead).
  const edit = async (text: string) => {
    const from = b.frames.length;
    expect((await http.put(`/messages/${ids[34]}`, { token: alice.token, body: { text } })).status).toBe(200);
    const f = await b.waitFor((x) => x.type === "message_updated" && x.data.message?.text === text, 5000, from);
    expect(countersIn(f)).toEqual(await exact(bob, chat));
    return f.data.unread_mentions_count;
  };
  expect(await edit(`now @${bob.username}`)).toBe(1);
  expect(await edit("nobody now")).toBe(0);
  expect(await edit(`again @${bob.username}`)).toBe(1);
  const next = await sendText(carol, chat, "after the edit");
  expect((await createdFrame(next)).data.unread_mentions_count).toBe(1);

  // bob's own message does not count for bob.
  const own = await sendText(bob, chat, "mine");
  expect((await createdFrame(own)).data.unread_count).toBe(29);

  // Clearing the history resets the count; later messages count from there.
  expect((await http.post(`/chats/${chat}/clear`, { token: bob.token })).status).toBe(204);
  await b.waitFor((f) => f.type === "chat_updated" && f.data.chat?.id === chat);
  const fresh = await sendText(alice, chat, `fresh @${bob.username}`);
  expect(countersIn(await createdFrame(fresh))).toEqual({ unread_count: 1, unread_mentions_count: 1 });
  await b.close();
}, 60_000);

test("a receiver who joins later gets counters of their own", async () => {
  const created = await http.post("/chats", { token: alice.token, body: { type: "group", title: "late join", member_ids: [bob.id] } });
  const chat: number = created.body.id;
  const c = await WsClient.connect(server.url, carol.token);
  const b = await WsClient.connect(server.url, bob.token);
  const first = await sendText(alice, chat, "before carol");
  await b.waitFor((f) => f.type === "message_created" && f.data.message?.id === first);
  expect((await http.post(`/chats/${chat}/members`, { token: alice.token, body: { user_id: carol.id } })).status).toBe(201);
  await c.waitFor((f) => f.type === "chat_updated" && f.data.chat?.id === chat);
  const second = await sendText(alice, chat, "after carol");
  const fc = await c.waitFor((f) => f.type === "message_created" && f.data.message?.id === second);
  const fb = await b.waitFor((f) => f.type === "message_created" && f.data.message?.id === second);
  expect(fc.data.unread_count).toBe(1);
  expect(fb.data.unread_count).toBe(2);
  await Promise.all([b.close(), c.close()]);
});

test("a receiver whose newest messages above the mark are all their own: counted ids lie below the walk", async () => {
  const created = await http.post("/chats", { token: alice.token, body: { type: "group", title: "own above mark", member_ids: [bob.id] } });
  const chat: number = created.body.id;
  // Five of alice's unread under 140 of bob's own (more than the walk for the newest counted ids
  // reads, 4 × 32); sending does not move bob's read mark.
  const older: number[] = [];
  for (let i = 0; i < 5; i++) older.push(await sendText(alice, chat, `early ${i}`));
  for (let i = 0; i < 140; i++) await sendText(bob, chat, `own ${i}`);
  const b = await WsClient.connect(server.url, bob.token);
  const expectFrame = async (pred: (f: Frame) => boolean) => {
    const f = await b.waitFor(pred);
    expect(countersIn(f)).toEqual(await exact(bob, chat));
    return f;
  };
  const next = await sendText(alice, chat, "late");
  expect((await expectFrame((f) => f.type === "message_created" && f.data.message?.id === next)).data.unread_count).toBe(6);

  // A delete and a read among the ids the entry knows only as a number.
  expect((await http.delete(`/messages/${older[3]}?for_all=true`, { token: alice.token })).status).toBe(204);
  expect((await expectFrame((f) => f.type === "message_deleted" && f.data.message_id === older[3])).data.unread_count).toBe(5);
  const r = await http.post("/messages/status", { token: bob.token, body: { chat_id: chat, message_id: older[1], status: "message_read" } });
  expect(r.status).toBe(200);
  expect((await expectFrame((f) => f.type === "message_read" && f.data.user_id === bob.id && f.data.message_id === older[1])).data.unread_count).toBe(3);
  await b.close();
}, 60_000);
