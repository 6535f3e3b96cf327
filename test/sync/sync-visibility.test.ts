/**
 * /sync and a resumed WebSocket replay what happened while a client was away, but never a
 * message the user cannot see now (CONTRACT §6): one deleted for all, deleted for them, or before
 * their clear point. Their `message_deleted` events still come, so a client that saw the message
 * live removes it.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { queryRows } from "../../src/db/client";
import { logBounds, pruneEventLog } from "../../src/realtime/replay";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { WsClient } from "../realtime/ws-client";

let server: TestServer;
let http: ReturnType<typeof client>;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  [alice, bob] = await Promise.all([createUser(server), createUser(server)]);
});
afterAll(() => server.stop());

async function send(user: TestUser, chatId: number, text: string): Promise<number> {
  const r = await http.post("/messages", { token: user.token, body: { chat_id: chatId, text } });
  expect(r.status).toBe(201);
  return r.body.id;
}

test("replays leave out messages deleted for all, deleted for the user, or before their clear point", async () => {
  const chat: number = (await http.post("/chats", { token: alice.token, body: { type: "group", title: "away", member_ids: [bob.id] } })).body.id;
  const start = await http.get("/sync?since=0&limit=1", { token: bob.token });
  const since: number = start.body.next_since;

  const beforeClear = await send(alice, chat, "secret-before-clear");
  const deleted = await send(alice, chat, "secret-deleted-for-all");
  const hidden = await send(alice, chat, "secret-hidden-for-bob");
  const edited = await send(alice, chat, "visible-then-edited");
  expect((await http.put(`/messages/${edited}`, { token: alice.token, body: { text: "visible-edit" } })).status).toBe(200);
  expect((await http.post(`/messages/${hidden}/reactions/toggle`, { token: alice.token, body: { emoji: "👍" } })).status).toBe(200);
  expect((await http.delete(`/messages/${deleted}?for_all=true`, { token: alice.token })).status).toBe(204);
  expect((await http.delete(`/messages/${hidden}?for_all=false`, { token: bob.token })).status).toBe(204);
  // bob clears up to here (his clear point is the newest message, `edited`), then one more arrives.
  expect((await http.post(`/chats/${chat}/clear`, { token: bob.token })).status).toBe(204);
  const after = await send(alice, chat, "visible-after-clear");

  const sync = await http.get(`/sync?since=${since}&limit=100`, { token: bob.token });
  expect(sync.status).toBe(200);
  const events = sync.body.events as { type: string; data: Record<string, any> }[];
  const messageIdOf = (e: { data: Record<string, any> }) => e.data.message?.id ?? e.data.message_id;
  const carrying = events.filter((e) => ["message_created", "message_updated", "reactions_updated"].includes(e.type));
  expect(carrying.map((e) => [e.type, messageIdOf(e)])).toEqual([["message_created", after]]);
  expect(sync.text).not.toContain("secret-");
  // The deletions themselves are replayed (chat-level for all, user-level for bob's own).
  const deletions = events.filter((e) => e.type === "message_deleted").map((e) => e.data.message_id);
  expect(deletions).toEqual(expect.arrayContaining([deleted, hidden]));
  void beforeClear;

  // A resumed socket replays the same.
  const ws = await WsClient.connect(server.url, bob.token, { since });
  const replayed = ws.frames.filter((f) => ["message_created", "message_updated", "reactions_updated"].includes(f.type));
  expect(replayed.map((f) => [f.type, f.data.message?.id ?? f.data.message_id])).toEqual([["message_created", after]]);
  expect(JSON.stringify(ws.frames)).not.toContain("secret-");
  await ws.close();
});

test("a replayed chat_updated of the user shows the chat as it is now, not a last message deleted since", async () => {
  const chat: number = (await http.post("/chats", { token: alice.token, body: { type: "group", title: "previews", member_ids: [bob.id] } })).body.id;
  const since: number = (await http.get("/sync?since=0&limit=1", { token: bob.token })).body.next_since;
  const secret = await send(alice, chat, "secret-preview");
  // bob's archive writes a user-level chat_updated whose ChatRead shows the newest message.
  expect((await http.post(`/chats/${chat}/archive`, { token: bob.token })).status).toBe(200);
  expect((await http.delete(`/messages/${secret}?for_all=true`, { token: alice.token })).status).toBe(204);

  const sync = await http.get(`/sync?since=${since}&limit=100`, { token: bob.token });
  expect(sync.status).toBe(200);
  expect(sync.text).not.toContain("secret-preview");
  const updates = (sync.body.events as { type: string; data: Record<string, any> }[]).filter((e) => e.type === "chat_updated" && e.data.chat?.id === chat);
  expect(updates.length).toBeGreaterThan(0);
  for (const u of updates) expect(u.data.chat.last_message_text).toBeNull();

  const ws = await WsClient.connect(server.url, bob.token, { since });
  expect(JSON.stringify(ws.frames)).not.toContain("secret-preview");
  await ws.close();
});

test("a member who left (or was removed) and came back replays what they missed while still a member, and nothing from between", async () => {
  const carol = await createUser(server);
  const chat: number = (await http.post("/chats", { token: alice.token, body: { type: "group", title: "comeback", member_ids: [bob.id, carol.id] } })).body.id;
  const since: number = (await http.get("/sync?since=0&limit=1", { token: bob.token })).body.next_since;
  const seen = await send(alice, chat, "while-bob-was-in");
  const cleared = await send(carol, chat, "then-bob-cleared");
  expect((await http.post(`/chats/${chat}/clear`, { token: bob.token })).status).toBe(204);
  const lastBefore = await send(carol, chat, "bob-still-in");
  expect((await http.delete(`/chats/${chat}/members/${bob.id}`, { token: alice.token })).status).toBe(204);
  const away = await send(alice, chat, "secret-while-bob-was-out");
  expect((await http.post(`/chats/${chat}/members`, { token: alice.token, body: { user_id: bob.id } })).status).toBe(201);
  const back = await send(alice, chat, "after-bob-came-back");
  expect((await http.post(`/chats/${chat}/leave`, { token: bob.token })).status).toBe(204);
  void seen;
  void cleared;

  const sync = await http.get(`/sync?since=${since}&limit=100`, { token: bob.token });
  expect(sync.status).toBe(200);
  const events = sync.body.events as { type: string; seq: number; data: Record<string, any> }[];
  // Only this chat's (bob's earlier tests' chats are in the same range).
  const created = events.filter((e) => e.type === "message_created" && e.data.message.chat_id === chat).map((e) => e.data.message.id);
  // What he had cleared stays out, as for a member; what was sent while he was out never shows.
  expect(created).toEqual([lastBefore, back]);
  expect(sync.text).not.toContain("secret-");
  expect(away).toBeGreaterThan(lastBefore);
  const seqs = events.map((e) => e.seq);
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  // His own removal, comeback and leave are there as user events.
  expect(events.filter((e) => e.type === "chat_deleted" && e.data.chat_id === chat).length).toBe(2);

  const ws = await WsClient.connect(server.url, bob.token, { since });
  expect(ws.frames.filter((f) => f.type === "message_created" && f.data.message?.chat_id === chat).map((f) => f.data.message?.id)).toEqual([lastBefore, back]);
  await ws.close();

  // The periods go with the events they cover when retention prunes them.
  const periods = () => queryRows(server.app.db, sql`select 1 from chat_member_periods where user_id = ${bob.id} and chat_id = ${chat}`);
  expect((await periods()).length).toBe(2);
  await pruneEventLog(server.app.db, new Date(Date.now() + 60_000));
  expect((await periods()).length).toBe(0);
});

test("a private chat deleted for me replays nothing after its chat_deleted until a new message brings it back", async () => {
  const chat: number = (await http.post("/chats", { token: alice.token, body: { type: "private", member_ids: [bob.id] } })).body.id;
  const old = await send(alice, chat, "before the delete");
  const pinned = await send(alice, chat, "pin me");
  // The log's head now (an earlier test prunes the log, so since=0 may be past retention).
  const since = (await logBounds(server.app.db)).head;
  expect((await http.delete(`/chats/${chat}?for_all=false`, { token: bob.token })).status).toBe(204);
  // What alice does meanwhile concerns a chat bob no longer has.
  expect((await http.post("/messages/status", { token: alice.token, body: { chat_id: chat, message_id: pinned, status: "message_read" } })).status).toBe(200);
  expect((await http.delete(`/messages/${old}?for_all=true`, { token: alice.token })).status).toBe(204);
  expect((await http.post(`/chats/${chat}/pin`, { token: alice.token, body: { message_id: pinned } })).status).toBe(200);

  const afterDelete = (events: { type: string; data: Record<string, any> }[]) => {
    const at = events.findIndex((e) => e.type === "chat_deleted" && e.data.chat_id === chat);
    expect(at).toBeGreaterThanOrEqual(0);
    return events.slice(at + 1).filter((e) => e.data.chat_id === chat || e.data.chat?.id === chat || e.data.message?.chat_id === chat).map((e) => e.type);
  };
  const sync = await http.get(`/sync?since=${since}&limit=100`, { token: bob.token });
  expect(afterDelete(sync.body.events)).toEqual([]);
  const ws = await WsClient.connect(server.url, bob.token, { since });
  expect(afterDelete(ws.frames as { type: string; data: Record<string, any> }[])).toEqual([]);
  await ws.close();

  // A new message brings the chat back: its ChatRead, then the message.
  await send(alice, chat, "are you there?");
  const back = await http.get(`/sync?since=${since}&limit=100`, { token: bob.token });
  expect(afterDelete(back.body.events)).toEqual(["chat_updated", "message_created"]);
});

test("reopening a private chat deleted for me (POST /chats again) starts its replay there too", async () => {
  const chat: number = (await http.post("/chats", { token: alice.token, body: { type: "private", member_ids: [bob.id] } })).body.id;
  const pinned = await send(alice, chat, "pin me later");
  const since = (await logBounds(server.app.db)).head;
  expect((await http.delete(`/chats/${chat}?for_all=false`, { token: bob.token })).status).toBe(204);
  expect((await http.post(`/chats/${chat}/pin`, { token: alice.token, body: { message_id: pinned } })).status).toBe(200);
  const reopened = await http.post("/chats", { token: bob.token, body: { type: "private", member_ids: [alice.id] } });
  expect(reopened.body.id).toBe(chat);
  expect((await http.post(`/chats/${chat}/pin`, { token: alice.token, body: { message_id: null } })).status).toBe(200);

  const events = (await http.get(`/sync?since=${since}&limit=100`, { token: bob.token })).body.events as { type: string; data: Record<string, any> }[];
  const ofChat = events.filter((e) => e.data.chat_id === chat || e.data.chat?.id === chat).map((e) => e.type);
  // Hidden: nothing; the reopen's own view of the chat; then the unpin made after it.
  expect(ofChat).toEqual(["chat_deleted", "chat_updated", "chat_updated"]);
});
