import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { WsClient } from "../realtime/ws-client";
import { chatEventsOf, chatOf, clearChatFor, markStatus, sendText, uniqueText, type Http } from "./support";

let server: TestServer;
let http: Http;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let dave: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  [alice, bob, carol, dave] = await Promise.all([createUser(server), createUser(server), createUser(server), createUser(server)]);
});
afterAll(() => server.stop());

const ids = (body: { id: number }[]) => body.map((m) => m.id);

describe("GET /messages/{chat_id}", () => {
  test("newest first; before_id pages through every message exactly once", async () => {
    const chat = await chatOf(server, "group", alice, [bob]);
    const sent: number[] = [];
    for (let i = 0; i < 7; i++) sent.push((await sendText(http, i % 2 ? bob : alice, chat)).id);
    const seen: number[] = [];
    let before: number | undefined;
    for (;;) {
      const r = await http.get(`/messages/${chat}?limit=3${before ? `&before_id=${before}` : ""}`, { token: alice.token });
      expect(r.status).toBe(200);
      if (r.body.length === 0) break;
      seen.push(...ids(r.body));
      before = r.body[r.body.length - 1].id;
    }
    expect(seen).toEqual([...sent].reverse());
  });

  test("limit outside 1..100 is 422; a chat the caller is not in is 404", async () => {
    const chat = await chatOf(server, "group", alice, [bob]);
    for (const limit of [0, 101, -1]) expect((await http.get(`/messages/${chat}?limit=${limit}`, { token: alice.token })).status).toBe(422);
    expect((await http.get(`/messages/${chat}?limit=100`, { token: alice.token })).status).toBe(200);
    expect((await http.get(`/messages/${chat}`, { token: carol.token })).status).toBe(404);
    expect((await http.get(`/messages/424242`, { token: carol.token })).status).toBe(404);
  });

  test("leaves out what the caller deleted for themself, what was deleted for all, and what lies before their clear point", async () => {
    const chat = await chatOf(server, "group", alice, [bob]);
    const old = await sendText(http, alice, chat);
    const cleared = await sendText(http, bob, chat);
    const mine = await sendText(http, bob, chat);
    const gone = await sendText(http, alice, chat);
    const kept = await sendText(http, alice, chat);
    await clearChatFor(server, chat, bob, cleared.id);
    expect((await http.delete(`/messages/${mine.id}?for_all=false`, { token: bob.token })).status).toBe(204);
    expect((await http.delete(`/messages/${gone.id}?for_all=true`, { token: alice.token })).status).toBe(204);
    const forBob = await http.get(`/messages/${chat}`, { token: bob.token });
    expect(ids(forBob.body)).toEqual([kept.id]);
    const forAlice = await http.get(`/messages/${chat}`, { token: alice.token });
    expect(ids(forAlice.body)).toEqual([kept.id, mine.id, cleared.id, old.id]);
  });
  test("paging with every limit skips hidden, deleted and cleared messages and never repeats one; an empty chat is an empty page", async () => {
    const chat = await chatOf(server, "group", alice, [bob]);
    expect((await http.get(`/messages/${chat}`, { token: bob.token })).body).toEqual([]);
    const sent: number[] = [];
    for (let i = 0; i < 9; i++) sent.push((await sendText(http, i % 2 ? bob : alice, chat)).id);
    const [first, second, , fourth, , sixth] = sent as [number, number, number, number, number, number];
    await clearChatFor(server, chat, bob, second);
    expect((await http.delete(`/messages/${fourth}?for_all=false`, { token: bob.token })).status).toBe(204);
    expect((await http.delete(`/messages/${sixth}?for_all=true`, { token: alice.token })).status).toBe(204);
    const visible = sent.filter((id) => id > second && id !== fourth && id !== sixth).reverse();
    for (const limit of [1, 2, 3, 4, 100]) {
      const seen: number[] = [];
      let before: number | undefined;
      for (;;) {
        const r = await http.get(`/messages/${chat}?limit=${limit}${before ? `&before_id=${before}` : ""}`, { token: bob.token });
        expect(r.status).toBe(200);
        expect(r.body.length).toBeLessThanOrEqual(limit);
        if (r.body.length === 0) break;
        seen.push(...ids(r.body));
        before = r.body[r.body.length - 1].id;
      }
      expect(seen).toEqual(visible);
    }
    // A before_id at or below the clear point is an empty page, not an error.
    expect((await http.get(`/messages/${chat}?before_id=${first}`, { token: bob.token })).body).toEqual([]);
  });
});

describe("delivery_status", () => {
  test("sent, then delivered, then read; the sender's own marks never count", async () => {
    const chat = await chatOf(server, "group", alice, [bob, carol]);
    const m = await sendText(http, alice, chat);
    const statusOf = async () => (await http.get(`/messages/${chat}`, { token: alice.token })).body.find((x: { id: number }) => x.id === m.id).delivery_status;
    expect(m.delivery_status).toBe("sent");
    await markStatus(http, alice, chat, m.id, "message_read");
    expect(await statusOf()).toBe("sent");
    await markStatus(http, bob, chat, m.id, "message_delivered");
    expect(await statusOf()).toBe("delivered");
    await markStatus(http, carol, chat, m.id, "message_read");
    expect(await statusOf()).toBe("read");
    // A later message is past everyone's marks.
    const later = await sendText(http, bob, chat);
    const page = await http.get(`/messages/${chat}`, { token: bob.token });
    expect(page.body.map((x: { id: number; delivery_status: string }) => [x.id, x.delivery_status])).toEqual([
      [later.id, "sent"],
      [m.id, "read"],
    ]);
  });

  test("a history page measures each message against the members other than its sender, the sender leading or not", async () => {
    const chat = await chatOf(server, "group", alice, [bob, carol]);
    const a1 = await sendText(http, alice, chat);
    const b1 = await sendText(http, bob, chat);
    const a2 = await sendText(http, alice, chat);
    const c1 = await sendText(http, carol, chat);
    await markStatus(http, alice, chat, c1.id, "message_read"); // alice leads by far
    await markStatus(http, bob, chat, a1.id, "message_read"); // the second reader: exactly at a1
    await markStatus(http, carol, chat, b1.id, "message_delivered");
    const page = await http.get(`/messages/${chat}`, { token: carol.token });
    expect(page.body.map((x: { id: number; delivery_status: string }) => [x.id, x.delivery_status])).toEqual([
      [c1.id, "read"], // alice read it
      [a2.id, "sent"], // alice's own mark does not count; bob read up to a1, carol got up to b1
      [b1.id, "read"], // alice read it
      [a1.id, "read"], // alice leads but is its sender: bob's mark, the second, reaches it
    ]);
    // Each single message read through the thread path (statuses probed per row) agrees.
    for (const m of page.body as { id: number; delivery_status: string }[]) {
      const thread = await http.get(`/messages/${m.id}/thread`, { token: carol.token });
      expect(thread.body[0].delivery_status).toBe(m.delivery_status);
    }
  });

  test("a page spanning many messages and chats (search) gets each status right", async () => {
    const chatA = await chatOf(server, "group", alice, [bob]);
    const chatB = await chatOf(server, "group", alice, [carol]);
    const word = `dstatus${Date.now().toString(36)}`;
    const a1 = await sendText(http, alice, chatA, `${word} 1`);
    const a2 = await sendText(http, bob, chatA, `${word} 2`);
    const b1 = await sendText(http, alice, chatB, `${word} 3`);
    await markStatus(http, bob, chatA, a2.id, "message_read"); // covers a1 (from alice); a2 is bob's own
    await markStatus(http, carol, chatB, b1.id, "message_delivered");
    const r = await http.get(`/messages/search?query=${word}`, { token: alice.token });
    expect(r.body.map((x: { id: number; delivery_status: string }) => [x.id, x.delivery_status])).toEqual([
      [b1.id, "delivered"],
      [a2.id, "sent"],
      [a1.id, "read"],
    ]);
  });
});

describe("GET /messages/{message_id}/thread", () => {
  test("root first, then level by level, ascending id within a level", async () => {
    const chat = await chatOf(server, "group", alice, [bob]);
    const reply = (to: number, who = bob) => sendText(http, who, chat, uniqueText(), { reply_to_message_id: to });
    const root = await sendText(http, alice, chat);
    const a = await reply(root.id);
    const b = await reply(root.id, alice);
    const a1 = await reply(a.id);
    const c = await reply(root.id);
    const b1 = await reply(b.id);
    const a2 = await reply(a.id, alice);
    const a1x = await reply(a1.id);
    await sendText(http, alice, chat); // not in the thread
    const r = await http.get(`/messages/${root.id}/thread`, { token: bob.token });
    expect(r.status).toBe(200);
    expect(ids(r.body)).toEqual([root.id, a.id, b.id, c.id, a1.id, b1.id, a2.id, a1x.id]);
    const sub = await http.get(`/messages/${a.id}/thread`, { token: bob.token });
    expect(ids(sub.body)).toEqual([a.id, a1.id, a2.id, a1x.id]);
    const limited = await http.get(`/messages/${root.id}/thread?limit=3`, { token: bob.token });
    expect(ids(limited.body)).toEqual([root.id, a.id, b.id]);
    // A deleted branch point is left out; its replies still belong to the thread.
    await http.delete(`/messages/${a.id}?for_all=true`, { token: bob.token });
    const after = await http.get(`/messages/${root.id}/thread`, { token: alice.token });
    expect(ids(after.body)).toEqual([root.id, b.id, c.id, a1.id, b1.id, a2.id, a1x.id]);
  });

  test("limit 1..200 (422 outside); 404 for a message the caller cannot see", async () => {
    const chat = await chatOf(server, "group", alice, [bob]);
    const root = await sendText(http, alice, chat);
    expect((await http.get(`/messages/${root.id}/thread?limit=200`, { token: alice.token })).status).toBe(200);
    expect((await http.get(`/messages/${root.id}/thread?limit=201`, { token: alice.token })).status).toBe(422);
    expect((await http.get(`/messages/${root.id}/thread?limit=0`, { token: alice.token })).status).toBe(422);
    expect((await http.get(`/messages/${root.id}/thread`, { token: carol.token })).status).toBe(404);
    expect((await http.get(`/messages/987654321/thread`, { token: alice.token })).status).toBe(404);
  });
});

describe("PUT /messages/{message_id}", () => {
  test("the sender edits: text and updated_at change, message_updated is logged", async () => {
    const chat = await chatOf(server, "group", alice, [bob]);
    const m = await sendText(http, alice, chat);
    await Bun.sleep(5); // updated_at must differ from created_at at millisecond resolution
    const r = await http.put(`/messages/${m.id}`, { token: alice.token, body: { text: "Edited text" } });
    expect(r.status).toBe(200);
    expect(r.body.text).toBe("Edited text");
    expect(r.body.created_at).toBe(m.created_at);
    expect(Date.parse(r.body.updated_at)).toBeGreaterThan(Date.parse(String(m.updated_at)));
    const events = await chatEventsOf(server, chat);
    expect(events.at(-1)?.type).toBe("message_updated");
    expect(events.at(-1)?.data.message).toEqual(r.body);
  });

  test("403 for another member, 404 for a stranger or a deleted message, 422 for empty text", async () => {
    const chat = await chatOf(server, "group", alice, [bob]);
    const m = await sendText(http, alice, chat);
    expect((await http.put(`/messages/${m.id}`, { token: bob.token, body: { text: "mine now" } })).status).toBe(403);
    expect((await http.put(`/messages/${m.id}`, { token: carol.token, body: { text: "x" } })).status).toBe(404);
    const empty = await http.put(`/messages/${m.id}`, { token: alice.token, body: { text: "  " } });
    expect(empty.status).toBe(422);
    expect(empty.body.detail).toBe("text: must not be empty");
    await http.delete(`/messages/${m.id}?for_all=true`, { token: alice.token });
    expect((await http.put(`/messages/${m.id}`, { token: alice.token, body: { text: "x" } })).status).toBe(404);
  });
});

describe("DELETE /messages/{message_id}", () => {
  test("for_all=false hides it for the caller only and tells only the caller", async () => {
    const chat = await chatOf(server, "group", alice, [bob]);
    const m = await sendText(http, alice, chat);
    const before = (await chatEventsOf(server, chat)).length;
    const r = await http.delete(`/messages/${m.id}`, { token: bob.token });
    expect(r.status).toBe(204);
    expect(r.text).toBe("");
    expect(ids((await http.get(`/messages/${chat}`, { token: bob.token })).body)).not.toContain(m.id);
    expect(ids((await http.get(`/messages/${chat}`, { token: alice.token })).body)).toContain(m.id);
    expect(await chatEventsOf(server, chat)).toHaveLength(before);
    expect((await http.delete(`/messages/${m.id}`, { token: bob.token })).status).toBe(404);
  });

  test("for_all=true: the sender, or an owner/admin of a group; message_deleted goes to the chat", async () => {
    const chat = await chatOf(server, "group", alice, [bob, carol, dave], { [carol.id]: "admin" });
    const own = await sendText(http, bob, chat);
    const byAdmin = await sendText(http, bob, chat);
    const byOwner = await sendText(http, dave, chat);
    const notYours = await sendText(http, alice, chat);
    expect((await http.delete(`/messages/${notYours.id}?for_all=true`, { token: bob.token })).status).toBe(403);
    expect((await http.delete(`/messages/${own.id}?for_all=true`, { token: bob.token })).status).toBe(204);
    expect((await http.delete(`/messages/${byAdmin.id}?for_all=true`, { token: carol.token })).status).toBe(204);
    expect((await http.delete(`/messages/${byOwner.id}?for_all=true`, { token: alice.token })).status).toBe(204);
    const left = ids((await http.get(`/messages/${chat}`, { token: dave.token })).body);
    expect(left).toEqual([notYours.id]);
    const deleted = (await chatEventsOf(server, chat)).filter((e) => e.type === "message_deleted").map((e) => e.data);
    expect(deleted).toEqual([own, byAdmin, byOwner].map((m) => ({ chat_id: chat, message_id: m.id })));
    expect((await http.delete(`/messages/${own.id}?for_all=true`, { token: bob.token })).status).toBe(404);
  });

  test("for_all=true of the pinned or the newest message also tells the chat: it is unpinned, and chat_updated follows message_deleted", async () => {
    const chat = await chatOf(server, "group", alice, [bob]);
    const pinned = await sendText(http, alice, chat);
    const middle = await sendText(http, alice, chat);
    const newest = await sendText(http, alice, chat);
    expect((await http.post(`/chats/${chat}/pin`, { token: alice.token, body: { message_id: pinned.id } })).status).toBe(200);
    const watcher = await WsClient.connect(server.url, bob.token);
    const eventsAfter = async (since: number) => (await chatEventsOf(server, chat, since)).map((e) => [e.type, e.data.message_id ?? e.data.pinned_message_id ?? null]);

    let from = (await chatEventsOf(server, chat)).at(-1)?.seq ?? 0;
    expect((await http.delete(`/messages/${middle.id}?for_all=true`, { token: alice.token })).status).toBe(204);
    expect(await eventsAfter(from)).toEqual([["message_deleted", middle.id]]);

    from = (await chatEventsOf(server, chat)).at(-1)?.seq ?? 0;
    const unpinnedLive = watcher.next("chat_updated");
    expect((await http.delete(`/messages/${pinned.id}?for_all=true`, { token: alice.token })).status).toBe(204);
    expect(await eventsAfter(from)).toEqual([["message_deleted", pinned.id], ["chat_updated", null]]);
    const unpinned = await unpinnedLive;
    expect([unpinned.data.pinned_message_id, (unpinned.data.chat as { pinned_message_id: number | null }).pinned_message_id]).toEqual([null, null]);
    expect((await http.get(`/chats/${chat}`, { token: bob.token })).body.pinned_message_id).toBeNull();

    const lastLive = watcher.next("chat_updated");
    expect((await http.delete(`/messages/${newest.id}?for_all=true`, { token: alice.token })).status).toBe(204);
    const emptied = (await lastLive).data.chat as { last_message_text: string | null };
    expect(emptied.last_message_text).toBeNull();
    await watcher.close();
  });

  test("in a private chat only the sender deletes for all", async () => {
    const chat = await chatOf(server, "private", alice, [bob]);
    const m = await sendText(http, alice, chat);
    expect((await http.delete(`/messages/${m.id}?for_all=true`, { token: bob.token })).status).toBe(403);
    expect((await http.delete(`/messages/${m.id}?for_all=true`, { token: alice.token })).status).toBe(204);
  });
});

describe("POST /messages/status", () => {
  test("marks move forward only; read implies delivered; the response holds both marks", async () => {
    const chat = await chatOf(server, "group", alice, [bob]);
    const m1 = await sendText(http, alice, chat);
    const m2 = await sendText(http, alice, chat);
    const m3 = await sendText(http, alice, chat);
    const d = await markStatus(http, bob, chat, m2.id, "message_delivered");
    expect(d.status).toBe(200);
    expect(d.body).toEqual({ last_delivered_message_id: m2.id, last_read_message_id: 0 });
    expect((await markStatus(http, bob, chat, m1.id, "message_read")).body).toEqual({ last_delivered_message_id: m2.id, last_read_message_id: m1.id });
    expect((await markStatus(http, bob, chat, m3.id, "message_read")).body).toEqual({ last_delivered_message_id: m3.id, last_read_message_id: m3.id });
    // Older ids leave both marks where they are.
    expect((await markStatus(http, bob, chat, m1.id, "message_read")).body).toEqual({ last_delivered_message_id: m3.id, last_read_message_id: m3.id });
    expect((await markStatus(http, bob, chat, m2.id, "message_delivered")).body).toEqual({ last_delivered_message_id: m3.id, last_read_message_id: m3.id });
  });

  test("events only for marks that moved", async () => {
    const chat = await chatOf(server, "group", alice, [bob]);
    const m = await sendText(http, alice, chat);
    const since = (await chatEventsOf(server, chat)).at(-1)?.seq ?? 0;
    await markStatus(http, bob, chat, m.id, "message_read");
    await markStatus(http, bob, chat, m.id, "message_read");
    await markStatus(http, bob, chat, m.id, "message_delivered");
    const events = (await chatEventsOf(server, chat, since)).map((e) => [e.type, e.data]);
    expect(events).toEqual([
      ["message_delivered", { chat_id: chat, user_id: bob.id, message_id: m.id }],
      ["message_read", { chat_id: chat, user_id: bob.id, message_id: m.id }],
    ]);
  });

  test("404 for a message of another chat or a chat the caller is not in; 422 for a bad status", async () => {
    const chat = await chatOf(server, "group", alice, [bob]);
    const other = await chatOf(server, "group", alice, []);
    const foreign = await sendText(http, alice, other);
    expect((await markStatus(http, bob, chat, foreign.id, "message_read")).status).toBe(404);
    expect((await markStatus(http, carol, other, foreign.id, "message_read")).status).toBe(404);
    const bad = await http.post("/messages/status", { token: alice.token, body: { chat_id: other, message_id: foreign.id, status: "seen" } });
    expect(bad.status).toBe(422);
    expect(bad.body.detail).toStartWith("status:");
  });

  test("404 for a message the caller cannot see: deleted for all, deleted for them", async () => {
    const chat = await chatOf(server, "group", alice, [bob]);
    const gone = await sendText(http, alice, chat);
    const hidden = await sendText(http, alice, chat);
    expect((await http.delete(`/messages/${gone.id}?for_all=true`, { token: alice.token })).status).toBe(204);
    expect((await http.delete(`/messages/${hidden.id}?for_all=false`, { token: bob.token })).status).toBe(204);
    expect((await markStatus(http, bob, chat, gone.id, "message_read")).status).toBe(404);
    expect((await markStatus(http, bob, chat, hidden.id, "message_delivered")).status).toBe(404);
    // Alice still sees the one bob hid.
    expect((await markStatus(http, alice, chat, hidden.id, "message_read")).status).toBe(200);
  });
});

describe("static paths never reach the {id} procedures", () => {
  test("/messages/search and /messages/status", async () => {
    const search = await http.get("/messages/search?query=anything", { token: alice.token });
    expect(search.status).toBe(200);
    expect(Array.isArray(search.body)).toBe(true);
    const status = await http.post("/messages/status", { token: alice.token, body: {} });
    expect(status.status).toBe(422);
    expect(status.body.detail).toStartWith("chat_id:");
    // GET /messages/status is not history of a chat called "status": the path exists for POST only.
    const get = await http.get("/messages/status", { token: alice.token });
    expect([get.status, get.headers.get("allow")]).toEqual([405, "POST"]);
  });
});
