import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq, inArray } from "drizzle-orm";
import { messages } from "../../src/db/schema";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { block, chatEventsOf, chatOf, sendText, type Http } from "./support";

let server: TestServer;
let http: Http;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  [alice, bob, carol] = await Promise.all([createUser(server), createUser(server), createUser(server)]);
});
afterAll(() => server.stop());

const countIn = async (chatIds: number[]) =>
  (await server.app.db.select({ id: messages.id }).from(messages).where(inArray(messages.chatId, chatIds))).length;

describe("POST /messages/{message_id}/forward", () => {
  test("201: a copy in the target, sent by the caller, pointing at the source", async () => {
    const from = await chatOf(server, "group", bob, [alice]);
    const to = await chatOf(server, "group", alice, [carol]);
    const src = await sendText(http, bob, from, "worth sharing");
    const r = await http.post(`/messages/${src.id}/forward`, { token: alice.token, body: { target_chat_id: to } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ chat_id: to, sender_id: alice.id, forwarded_from_message_id: src.id, text: "worth sharing", type: "text" });
    const events = await chatEventsOf(server, to);
    expect(events.at(-1)?.type).toBe("message_created");
  });

  test("404 for a source the caller cannot see or a target they are not in; 403 for a channel they cannot post in", async () => {
    const from = await chatOf(server, "group", bob, [alice]);
    const src = await sendText(http, bob, from);
    const mine = await chatOf(server, "group", alice, []);
    const strangers = await chatOf(server, "group", carol, []);
    const channel = await chatOf(server, "channel", carol, [alice]);
    expect((await http.post(`/messages/${src.id}/forward`, { token: carol.token, body: { target_chat_id: strangers } })).status).toBe(404);
    expect((await http.post(`/messages/${src.id}/forward`, { token: alice.token, body: { target_chat_id: strangers } })).status).toBe(404);
    expect((await http.post(`/messages/${src.id}/forward`, { token: alice.token, body: { target_chat_id: channel } })).status).toBe(403);
    await http.delete(`/messages/${src.id}`, { token: alice.token });
    expect((await http.post(`/messages/${src.id}/forward`, { token: alice.token, body: { target_chat_id: mine } })).status).toBe(404);
  });
});

describe("POST /messages/{message_id}/forward-bulk", () => {
  test("201 with one copy per target, in the order given", async () => {
    const from = await chatOf(server, "group", alice, []);
    const targets = [await chatOf(server, "group", alice, [bob]), await chatOf(server, "group", alice, []), await chatOf(server, "private", alice, [carol])];
    const src = await sendText(http, alice, from);
    const r = await http.post(`/messages/${src.id}/forward-bulk`, { token: alice.token, body: { target_chat_ids: targets } });
    expect(r.status).toBe(201);
    expect(r.body.map((m: { chat_id: number }) => m.chat_id)).toEqual(targets);
    expect(r.body.every((m: { forwarded_from_message_id: number }) => m.forwarded_from_message_id === src.id)).toBe(true);
  });

  test("one forbidden or unknown target creates nothing anywhere", async () => {
    const from = await chatOf(server, "group", alice, []);
    const src = await sendText(http, alice, from);
    const ok1 = await chatOf(server, "group", alice, []);
    const ok2 = await chatOf(server, "group", alice, [bob]);
    const channel = await chatOf(server, "channel", bob, [alice]);
    const notMine = await chatOf(server, "group", carol, []);
    const blockedPrivate = await chatOf(server, "private", alice, [carol]);
    await block(server, carol, alice);
    const cases: [number[], number][] = [
      [[ok1, channel, ok2], 403],
      [[ok1, ok2, notMine], 404],
      [[ok1, blockedPrivate], 403],
    ];
    for (const [targets, status] of cases) {
      const r = await http.post(`/messages/${src.id}/forward-bulk`, { token: alice.token, body: { target_chat_ids: targets } });
      expect(r.status).toBe(status);
    }
    expect(await countIn([ok1, ok2, channel, notMine, blockedPrivate])).toBe(0);
  });

  test("1..20 distinct targets (422 otherwise)", async () => {
    const from = await chatOf(server, "group", alice, []);
    const src = await sendText(http, alice, from);
    const bodies: [unknown, string][] = [
      [[], "target_chat_ids: must hold at least 1 chat"],
      [Array.from({ length: 21 }, (_, i) => i + 1), "target_chat_ids: must hold at most 20 chats"],
      [[from, from], "target_chat_ids: must not repeat a chat"],
    ];
    for (const [target_chat_ids, detail] of bodies) {
      const r = await http.post(`/messages/${src.id}/forward-bulk`, { token: alice.token, body: { target_chat_ids } });
      expect(r.status).toBe(422);
      expect(r.body.detail).toBe(detail);
    }
    expect(await countIn([from])).toBe(1);
  });
});

describe("reactions", () => {
  test("toggle adds and removes the caller's reaction; list sorted by count then emoji; reactions_updated logged", async () => {
    const chat = await chatOf(server, "group", alice, [bob, carol]);
    const m = await sendText(http, alice, chat);
    const toggle = (u: TestUser, emoji: string) => http.post(`/messages/${m.id}/reactions/toggle`, { token: u.token, body: { emoji } });
    expect((await toggle(alice, "👍")).body).toEqual([{ emoji: "👍", count: 1, reacted: true }]);
    await toggle(bob, "🎉");
    await toggle(carol, "🎉");
    await toggle(bob, "a");
    const r = await toggle(carol, "👍");
    expect(r.status).toBe(200);
    expect(r.body).toEqual([
      { emoji: "👍", count: 2, reacted: true },
      { emoji: "🎉", count: 2, reacted: true },
      { emoji: "a", count: 1, reacted: false },
    ].sort((x, y) => y.count - x.count || (x.emoji < y.emoji ? -1 : 1)));
    // Toggling again removes it.
    const off = await toggle(carol, "👍");
    expect(off.body.find((x: { emoji: string }) => x.emoji === "👍")).toEqual({ emoji: "👍", count: 1, reacted: false });
    const list = await http.get(`/messages/${m.id}/reactions`, { token: alice.token });
    expect(list.status).toBe(200);
    expect(list.body).toEqual([
      { emoji: "🎉", count: 2, reacted: false },
      { emoji: "a", count: 1, reacted: false },
      { emoji: "👍", count: 1, reacted: true },
    ]);
    const last = (await chatEventsOf(server, chat)).at(-1);
    expect(last?.type).toBe("reactions_updated");
    expect(last?.data).toEqual({
      chat_id: chat,
      message_id: m.id,
      reactions: [
        { emoji: "🎉", count: 2 },
        { emoji: "a", count: 1 },
        { emoji: "👍", count: 1 },
      ],
    });
  });

  test("emoji must be 1..32 bytes without whitespace (422)", async () => {
    const chat = await chatOf(server, "group", alice, []);
    const m = await sendText(http, alice, chat);
    for (const emoji of ["", "a b", "👍\n", "x".repeat(33), "👍".repeat(9)]) {
      const r = await http.post(`/messages/${m.id}/reactions/toggle`, { token: alice.token, body: { emoji } });
      expect(r.status).toBe(422);
      expect(r.body.detail).toStartWith("emoji:");
    }
    expect((await http.post(`/messages/${m.id}/reactions/toggle`, { token: alice.token, body: { emoji: "👍".repeat(8) } })).status).toBe(200);
  });

  test("a message takes at most 20 different emoji: the 21st is 422, one already there may still be added, a removed one frees room", async () => {
    const chat = await chatOf(server, "group", alice, [bob]);
    const m = await sendText(http, alice, chat);
    const toggle = (u: TestUser, emoji: string) => http.post(`/messages/${m.id}/reactions/toggle`, { token: u.token, body: { emoji } });
    for (let i = 0; i < 20; i++) expect((await toggle(alice, `e${i}`)).status).toBe(200);
    const refused = await toggle(alice, "e20");
    expect(refused.status).toBe(422);
    expect(refused.body.detail).toBe("emoji: a message takes at most 20 different reactions");
    const more = await toggle(bob, "e3");
    expect(more.status).toBe(200);
    expect(more.body.find((r: { emoji: string }) => r.emoji === "e3")).toEqual({ emoji: "e3", count: 2, reacted: true });
    expect((await toggle(alice, "e0")).status).toBe(200);
    expect((await toggle(bob, "e20")).status).toBe(200);
    const list = await http.get(`/messages/${m.id}/reactions`, { token: alice.token });
    expect(list.body).toHaveLength(20);
  });

  test("404 for strangers, deleted messages and missing ids", async () => {
    const chat = await chatOf(server, "group", alice, [bob]);
    const m = await sendText(http, alice, chat);
    expect((await http.get(`/messages/${m.id}/reactions`, { token: carol.token })).status).toBe(404);
    expect((await http.post(`/messages/${m.id}/reactions/toggle`, { token: carol.token, body: { emoji: "👍" } })).status).toBe(404);
    await http.delete(`/messages/${m.id}?for_all=true`, { token: alice.token });
    expect((await http.get(`/messages/${m.id}/reactions`, { token: bob.token })).status).toBe(404);
    expect((await http.get(`/messages/987654321/reactions`, { token: bob.token })).status).toBe(404);
    const rows = await server.app.db.select().from(messages).where(eq(messages.id, m.id));
    expect(rows[0]?.deletedAt).not.toBeNull();
  });
});
