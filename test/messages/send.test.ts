import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq, sql } from "drizzle-orm";
import { chatMembers, chats, messageMentions, messages } from "../../src/db/schema";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { addContact, block, chatEventsOf, chatOf, denyPrivateMessages, sendText, uniqueText, type Http } from "./support";

let server: TestServer;
let http: Http;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let group: number;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  [alice, bob, carol] = await Promise.all([createUser(server), createUser(server), createUser(server)]);
  group = await chatOf(server, "group", alice, [bob]);
});
afterAll(() => server.stop());

const countRows = async (chatId: number) =>
  (await server.app.db.select({ id: messages.id }).from(messages).where(eq(messages.chatId, chatId))).length;

describe("POST /messages", () => {
  test("201 with a MessageRead; the chat's activity moves and message_created is logged", async () => {
    const text = uniqueText("hello");
    const r = await http.post("/messages", { token: alice.token, body: { chat_id: group, type: "text", text } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      chat_id: group,
      sender_id: alice.id,
      reply_to_message_id: null,
      forwarded_from_message_id: null,
      type: "text",
      text,
      delivery_status: "sent",
      attachment_waveform: null,
    });
    expect(r.body.created_at).toMatch(/Z$/);
    expect(r.body.updated_at).toMatch(/Z$/);
    const [chat] = await server.app.db.select().from(chats).where(eq(chats.id, group));
    expect(chat?.lastMessageId).toBe(r.body.id);
    const events = await chatEventsOf(server, group);
    const created = events.find((e) => e.type === "message_created" && (e.data.message as { id: number }).id === r.body.id);
    expect(created?.data.message).toEqual(r.body);
  });

  test("type defaults to text; other types may carry a caption or none", async () => {
    const plain = await http.post("/messages", { token: alice.token, body: { chat_id: group, text: uniqueText() } });
    expect(plain.status).toBe(201);
    expect(plain.body.type).toBe("text");
    const image = await http.post("/messages", { token: alice.token, body: { chat_id: group, type: "image" } });
    expect(image.status).toBe(201);
    expect(image.body.text).toBeNull();
    const captioned = await http.post("/messages", { token: alice.token, body: { chat_id: group, type: "voice", text: "listen" } });
    expect(captioned.body.text).toBe("listen");
  });

  test("422 for empty, blank or too long text, bad type, long client_message_id", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ chat_id: group, type: "text", text: "" }, "text: must not be empty"],
      [{ chat_id: group, type: "text", text: "   \n " }, "text: must not be empty"],
      [{ chat_id: group, type: "text" }, "text: must not be empty"],
      [{ chat_id: group, type: "text", text: "x".repeat(4097) }, "text: must be at most 4096 characters"],
      [{ chat_id: group, type: "sticker", text: "x" }, "type:"],
      [{ chat_id: group, text: "x", client_message_id: "c".repeat(65) }, "client_message_id: must be at most 64 characters"],
      [{ type: "text", text: "x" }, "chat_id:"],
    ];
    for (const [body, detail] of cases) {
      const r = await http.post("/messages", { token: alice.token, body });
      expect(r.status).toBe(422);
      expect(r.body.detail).toStartWith(detail);
    }
    const max = await http.post("/messages", { token: alice.token, body: { chat_id: group, text: "y".repeat(4096) } });
    expect(max.status).toBe(201);
  });

  test("text that shows nothing (zero-width, Hangul filler, blank Braille, BOM) is blank: 422 for texts, edits, titles and names; a caption of it is none", async () => {
    const invisible = ["\u200b", "\u3164", "\u2800 \u2800", "\u200b\u200d\ufeff", " \u00ad\u2060 "];
    for (const text of invisible) {
      const r = await http.post("/messages", { token: alice.token, body: { chat_id: group, type: "text", text } });
      expect([JSON.stringify(text), r.status, r.body.detail]).toEqual([JSON.stringify(text), 422, "text: must not be empty"]);
    }
    // Visible text with invisible characters in it is still text (emoji sequences use joiners).
    for (const text of ["a\u200b", "\u{1F468}\u200d\u{1F469}\u200d\u{1F467}", "\u3164x"]) {
      const r = await http.post("/messages", { token: alice.token, body: { chat_id: group, type: "text", text } });
      expect([JSON.stringify(text), r.status, r.body.text]).toEqual([JSON.stringify(text), 201, text]);
    }
    const sent = await sendText(http, alice, group, uniqueText("to edit"));
    const edit = await http.put(`/messages/${sent.id}`, { token: alice.token, body: { text: "\u3164" } });
    expect([edit.status, edit.body.detail]).toEqual([422, "text: must not be empty"]);
    const titled = await http.post("/chats", { token: alice.token, body: { type: "group", title: "\u200b\u3164" } });
    expect([titled.status, titled.body.detail]).toEqual([422, "title: is required for groups and channels"]);
    const renamed = await http.put("/users/profile", { token: alice.token, body: { name: "\u2800" } });
    expect([renamed.status, renamed.body.detail]).toEqual([422, "name: must not be empty"]);
    const caption = await http.post("/messages", { token: alice.token, body: { chat_id: group, type: "image", text: "\u200b" } });
    expect([caption.status, caption.body.text]).toEqual([201, null]);
  });

  test("404 for a chat the caller is not in or that does not exist", async () => {
    expect((await http.post("/messages", { token: carol.token, body: { chat_id: group, text: "hi" } })).status).toBe(404);
    expect((await http.post("/messages", { token: alice.token, body: { chat_id: 999999, text: "hi" } })).status).toBe(404);
  });

  test("channels: members get 403, owner and admins post", async () => {
    const channel = await chatOf(server, "channel", alice, [bob, carol], { [carol.id]: "admin" });
    const member = await http.post("/messages", { token: bob.token, body: { chat_id: channel, text: "me too" } });
    expect(member.status).toBe(403);
    expect(await countRows(channel)).toBe(0);
    await sendText(http, alice, channel);
    await sendText(http, carol, channel);
    expect(await countRows(channel)).toBe(2);
  });

  test("replies: same chat accepted, another chat or a missing message 422", async () => {
    const root = await sendText(http, alice, group);
    const reply = await sendText(http, bob, group, uniqueText("re"), { reply_to_message_id: root.id });
    expect(reply.reply_to_message_id).toBe(root.id);
    const other = await chatOf(server, "group", alice, [bob]);
    const foreign = await sendText(http, alice, other);
    const bad = await http.post("/messages", { token: bob.token, body: { chat_id: group, text: "x", reply_to_message_id: foreign.id } });
    expect(bad.status).toBe(422);
    expect(bad.body.detail).toStartWith("reply_to_message_id:");
    const missing = await http.post("/messages", { token: bob.token, body: { chat_id: group, text: "x", reply_to_message_id: 987654321 } });
    expect(missing.status).toBe(422);
  });

  test("replies: a message the sender cannot see (deleted for them, before their clear point) is 422, like a missing one", async () => {
    const chat = await chatOf(server, "group", alice, [bob]);
    const hidden = await sendText(http, alice, chat);
    expect((await http.delete(`/messages/${hidden.id}?for_all=false`, { token: bob.token })).status).toBe(204);
    const toHidden = await http.post("/messages", { token: bob.token, body: { chat_id: chat, text: "x", reply_to_message_id: hidden.id } });
    expect(toHidden.status).toBe(422);
    expect(toHidden.body.detail).toStartWith("reply_to_message_id:");
    // Alice still sees it, so she may answer it.
    expect((await sendText(http, alice, chat, uniqueText("re"), { reply_to_message_id: hidden.id })).reply_to_message_id).toBe(hidden.id);

    const old = await sendText(http, alice, chat);
    expect((await http.post(`/chats/${chat}/clear`, { token: bob.token })).status).toBe(204);
    const toCleared = await http.post("/messages", { token: bob.token, body: { chat_id: chat, text: "y", reply_to_message_id: old.id } });
    expect(toCleared.status).toBe(422);
    const after = await sendText(http, alice, chat);
    expect((await sendText(http, bob, chat, uniqueText("re"), { reply_to_message_id: after.id })).reply_to_message_id).toBe(after.id);
  });

  test("@mentions of members are stored; non-members, the sender and unknown names are not", async () => {
    const m = await sendText(http, alice, group, `hey @${bob.username.toUpperCase()} and @${carol.username} and @${alice.username} and @nobody_here`);
    const rows = await server.app.db.select().from(messageMentions).where(eq(messageMentions.messageId, m.id));
    expect(rows.map((r) => r.userId)).toEqual([bob.id]);
    const glued = await sendText(http, alice, group, `mail x@${bob.username} is not a mention`);
    expect(await server.app.db.select().from(messageMentions).where(eq(messageMentions.messageId, glued.id))).toHaveLength(0);
  });
});

describe("idempotent sends (client_message_id)", () => {
  test("a repeat returns the first message and creates nothing", async () => {
    const body = { chat_id: group, text: uniqueText(), client_message_id: `cid-${uniqueText()}` };
    const first = await http.post("/messages", { token: alice.token, body });
    const before = await countRows(group);
    const again = await http.post("/messages", { token: alice.token, body: { ...body, text: "changed" } });
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    expect(again.body.text).toBe(body.text);
    expect(await countRows(group)).toBe(before);
  });

  test("the same client_message_id from another sender or in another chat is another message", async () => {
    const cid = `cid-${uniqueText()}`;
    const a = await sendText(http, alice, group, uniqueText(), { client_message_id: cid });
    const b = await sendText(http, bob, group, uniqueText(), { client_message_id: cid });
    const other = await chatOf(server, "group", alice, []);
    const c = await sendText(http, alice, other, uniqueText(), { client_message_id: cid });
    expect(new Set([a.id, b.id, c.id]).size).toBe(3);
  });

  test("racing retries create one row and all answer it", async () => {
    const chat = await chatOf(server, "group", alice, [bob]);
    const body = { chat_id: chat, text: uniqueText(), client_message_id: `race-${uniqueText()}` };
    const answers = await Promise.all(Array.from({ length: 8 }, () => http.post("/messages", { token: alice.token, body })));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(201));
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(await countRows(chat)).toBe(1);
    const created = (await chatEventsOf(server, chat)).filter((e) => e.type === "message_created");
    expect(created).toHaveLength(1);
  });
});

describe("private chats: blocks and allow_private_messages", () => {
  test("a user who blocked the sender cannot be messaged by them (403); the blocker still can", async () => {
    const [u, v] = await Promise.all([createUser(server), createUser(server)]);
    const chat = await chatOf(server, "private", u, [v]);
    await block(server, v, u);
    const r = await http.post("/messages", { token: u.token, body: { chat_id: chat, text: "hi" } });
    expect(r.status).toBe(403);
    expect(await countRows(chat)).toBe(0);
    await sendText(http, v, chat);
  });

  test("allow_private_messages=false admits contacts only", async () => {
    const [u, v] = await Promise.all([createUser(server), createUser(server)]);
    const chat = await chatOf(server, "private", u, [v]);
    await denyPrivateMessages(server, v);
    expect((await http.post("/messages", { token: u.token, body: { chat_id: chat, text: "hi" } })).status).toBe(403);
    await addContact(server, v, u);
    await sendText(http, u, chat);
  });

  test("a private chat hidden by its member comes back with the next message", async () => {
    const [u, v] = await Promise.all([createUser(server), createUser(server)]);
    const chat = await chatOf(server, "private", u, [v]);
    await server.app.db.update(chatMembers).set({ hidden: true }).where(and(eq(chatMembers.chatId, chat), eq(chatMembers.userId, v.id)));
    await sendText(http, u, chat);
    const [row] = await server.app.db.select().from(chatMembers).where(and(eq(chatMembers.chatId, chat), eq(chatMembers.userId, v.id)));
    expect(row?.hidden).toBe(false);
  });
});

describe("a send is one transaction", () => {
  test("a failure late in the send leaves no message, no activity change, no event", async () => {
    const chat = await chatOf(server, "group", alice, [carol]);
    const before = (await server.app.db.select().from(chats).where(eq(chats.id, chat)))[0];
    // Make the last write of the send (its notification row) fail for this recipient only.
    await server.app.db.execute(
      sql.raw(`create or replace function fail_for_test() returns trigger language plpgsql as $$
        begin if new.user_id = ${carol.id} then raise exception 'injected failure'; end if; return new; end $$`),
    );
    await server.app.db.execute(sql.raw(`create trigger fail_for_test before insert on notifications for each row execute function fail_for_test()`));
    try {
      const r = await http.post("/messages", { token: alice.token, body: { chat_id: chat, text: "doomed", client_message_id: "doomed-1" } });
      expect(r.status).toBe(500);
      expect(r.body).toEqual({ detail: "Internal server error" });
    } finally {
      await server.app.db.execute(sql.raw(`drop trigger fail_for_test on notifications`));
    }
    expect(await countRows(chat)).toBe(0);
    expect(await chatEventsOf(server, chat)).toHaveLength(0);
    const after = (await server.app.db.select().from(chats).where(eq(chats.id, chat)))[0];
    expect(after?.lastMessageId).toBe(before?.lastMessageId ?? null);
    // Nothing was recorded under the client id either: the retry now creates the message.
    const retry = await http.post("/messages", { token: alice.token, body: { chat_id: chat, text: "doomed", client_message_id: "doomed-1" } });
    expect(retry.status).toBe(201);
    expect(await countRows(chat)).toBe(1);
  });
});

describe("rate limit and duplicate cooldown", () => {
  let limited: TestServer;
  let lhttp: Http;
  let u: TestUser;
  let v: TestUser;
  let chat: number;

  beforeAll(async () => {
    limited = await startTestServer({ env: { MESSAGE_RATE_LIMIT_PER_MINUTE: "4", DUPLICATE_MESSAGE_COOLDOWN_SECONDS: "30" } });
    lhttp = client(limited.url);
    [u, v] = await Promise.all([createUser(limited), createUser(limited)]);
    chat = await chatOf(limited, "group", u, [v]);
  });
  afterAll(() => limited.stop());

  test("the same text to the same chat within the cooldown is 429; other text or another chat is not", async () => {
    const text = uniqueText("dup");
    await sendText(lhttp, v, chat, text);
    const dup = await lhttp.post("/messages", { token: v.token, body: { chat_id: chat, text } });
    expect(dup.status).toBe(429);
    expect(dup.body.detail).toMatch(/^Rate limit exceeded\. Retry in \d+ seconds\.$/);
    const retryAfter = Number(dup.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(30);
    const other = await chatOf(limited, "group", v, []);
    await sendText(lhttp, v, other, text);
    await sendText(lhttp, u, chat, text); // another sender
  });

  test("an idempotent retry inside the cooldown answers the first message, not 429, even when racing", async () => {
    const w = await createUser(limited);
    const chat2 = await chatOf(limited, "group", w, []);
    const body = { chat_id: chat2, text: uniqueText("retry"), client_message_id: `r-${uniqueText()}` };
    const racing = await Promise.all([1, 2, 3].map(() => lhttp.post("/messages", { token: w.token, body })));
    expect(racing.map((r) => r.status)).toEqual([201, 201, 201]);
    expect(new Set(racing.map((r) => r.body.id)).size).toBe(1);
    const later = await lhttp.post("/messages", { token: w.token, body });
    expect(later.status).toBe(201);
    expect(later.body.id).toBe(racing[0]?.body.id);
    // A new client id with the same text is a duplicate, not a retry.
    const dup = await lhttp.post("/messages", { token: w.token, body: { ...body, client_message_id: "another" } });
    expect(dup.status).toBe(429);
  });

  test("the per-user rate limit trips, leaves other users alone, and recovers when its window ends", async () => {
    const w = await createUser(limited);
    const x = await createUser(limited);
    const chat3 = await chatOf(limited, "group", w, [x]);
    for (let i = 0; i < 4; i++) await sendText(lhttp, w, chat3);
    const over = await lhttp.post("/messages", { token: w.token, body: { chat_id: chat3, text: uniqueText() } });
    expect(over.status).toBe(429);
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(Number(over.headers.get("retry-after"))).toBeLessThanOrEqual(60);
    await sendText(lhttp, x, chat3);
    // End the window the way its expiry does: the counter key disappears from the broker.
    await limited.app.broker.del(`rl:message:${w.id}`);
    await sendText(lhttp, w, chat3);
  });

  test("edits count against the same per-user limit as sends", async () => {
    const w = await createUser(limited);
    const chat4 = await chatOf(limited, "group", w, []);
    const sent = await sendText(lhttp, w, chat4);
    for (let i = 0; i < 3; i++) expect((await lhttp.put(`/messages/${sent.id}`, { token: w.token, body: { text: `edit ${i}` } })).status).toBe(200);
    const over = await lhttp.put(`/messages/${sent.id}`, { token: w.token, body: { text: "one edit too many" } });
    expect(over.status).toBe(429);
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThan(0);
    await limited.app.broker.del(`rl:message:${w.id}`);
    expect((await lhttp.put(`/messages/${sent.id}`, { token: w.token, body: { text: "after the window" } })).status).toBe(200);
  });
});
