/**
 * Message search runs in two passes (src/routers/messages/search.ts): a recent window first (the
 * RECENT_WINDOW message ids below the caller's newest message, or below the chat's newest in a
 * search inside one chat), then the older ones through the trigram index when the window held
 * fewer than `limit` matches (chat by chat in one chat or for a caller in at most FEW_CHATS chats,
 * else once for the table). These
 * tests push matches below the window with filler messages (inserted directly: the subject is the
 * read path) and check that the answer is exactly the single query's.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { queryRows } from "../../src/db/client";
import { containsPattern } from "../../src/db/sql-fragments";
import { FEW_CHATS, RECENT_WINDOW } from "../../src/routers/messages/search";
import { renumberMessages } from "../helpers/fixtures";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { chatOf, sendText, type Http } from "../messages/support";

let server: TestServer;
let http: Http;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let filler: number;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  [alice, bob, carol] = await Promise.all([createUser(server), createUser(server), createUser(server)]);
  filler = await chatOf(server, "group", carol, [alice, bob]);
});
afterAll(() => server.stop());

let wordSeq = 0;
const freshWord = () => `wq${Date.now().toString(36)}y${++wordSeq}`;

const search = async (u: TestUser, query: string, extra = "") => {
  const r = await http.get(`/messages/search?query=${encodeURIComponent(query)}${extra}`, { token: u.token });
  expect(r.status).toBe(200);
  return (r.body as { id: number }[]).map((m) => m.id);
};

/**
 * Pushes every message sent so far below the recent windows: RECENT_WINDOW fillers in `chatId` (by
 * default a chat of alice, bob and carol), with the chat's last_message_id raised as the write path
 * raises it.
 */
async function pushBelowWindow(chatId = filler) {
  await server.app.db.execute(
    sql`insert into messages (chat_id, chat_seq, sender_id, type, text)
        select ${chatId}, 0, ${carol.id}, 'text', 'filler ' || g from generate_series(1, ${RECENT_WINDOW}) g`,
  );
  await renumberMessages(server.app.db, [chatId]);
  await server.app.db.execute(sql`update chats set last_message_id = (select max(id) from messages where chat_id = ${chatId}) where id = ${chatId}`);
}

/** The search as one plain query: what both passes together must answer. */
async function reference(u: TestUser, query: string, limit: number, chatId?: number): Promise<number[]> {
  const rows = await queryRows<{ id: string | number }>(
    server.app.db,
    sql`select m.id from messages m join chat_members cm on cm.chat_id = m.chat_id and cm.user_id = ${u.id}
        where lower(m.text) like ${containsPattern(query)} and m.deleted_at is null and m.id > cm.cleared_before_message_id
          and not exists (select 1 from message_hides h where h.chat_id = m.chat_id and h.user_id = ${u.id} and h.message_id = m.id)
          ${chatId !== undefined ? sql`and m.chat_id = ${chatId}` : sql``}
        order by m.id desc limit ${limit}`,
  );
  return rows.map((r) => Number(r.id));
}

describe("search across the recent window", () => {
  test("matches on both sides of the window: newest first, the window's, then the older ones up to the limit", async () => {
    const word = freshWord();
    const group = await chatOf(server, "group", alice, [bob]);
    const pair = await chatOf(server, "private", alice, [bob]);
    const old = [];
    for (let i = 0; i < 3; i++) old.push((await sendText(http, bob, i % 2 ? pair : group, `old ${word} ${i}`)).id);
    await pushBelowWindow();
    const recent = [];
    for (let i = 0; i < 2; i++) recent.push((await sendText(http, bob, i % 2 ? pair : group, `new ${word.toUpperCase()} ${i}`)).id);
    const newestFirst = [...recent.reverse(), ...old.reverse()];

    expect(await search(alice, word)).toEqual(newestFirst);
    for (const limit of [1, 2, 3, 4, 5, 6]) {
      expect(await search(alice, word, `&limit=${limit}`)).toEqual(newestFirst.slice(0, limit));
      expect(await search(alice, word, `&limit=${limit}`)).toEqual(await reference(alice, word, limit));
    }
    expect(await search(alice, word, `&chat_id=${group}`)).toEqual(await reference(alice, word, 50, group));
    expect(await search(alice, word, `&chat_id=${pair}&limit=1`)).toEqual(await reference(alice, word, 1, pair));
  });

  test("a word found only below the window comes from the trigram pass, LIKE metacharacters taken literally", async () => {
    const tag = freshWord();
    const chat = await chatOf(server, "group", alice, []);
    const pct = await sendText(http, alice, chat, `${tag} 100% SURE`);
    await sendText(http, alice, chat, `${tag} 1000 sure`);
    const under = await sendText(http, alice, chat, `${tag} a_b`);
    await sendText(http, alice, chat, `${tag} axb`);
    await pushBelowWindow();
    expect(await search(alice, `${tag} 100%`)).toEqual([pct.id]);
    expect(await search(alice, `${tag} a_b`)).toEqual([under.id]);
    expect(await search(alice, tag)).toEqual(await reference(alice, tag, 50));
    expect((await search(alice, tag)).length).toBe(4);
    expect(await search(bob, tag)).toEqual([]);
  });

  test("below the window too, Turkish İ and a Greek final Σ are found as written", async () => {
    const tag = freshWord();
    const chat = await chatOf(server, "group", alice, []);
    const turkish = await sendText(http, alice, chat, `${tag} İstanbul`);
    const greek = await sendText(http, alice, chat, `${tag} ΣΊΣΥΦΟΣ`);
    await pushBelowWindow();
    expect(await search(alice, `${tag} İstanbul`)).toEqual([turkish.id]);
    expect(await search(alice, `${tag} ΣΊΣΥΦΟΣ`)).toEqual([greek.id]);
    expect(await search(alice, `${tag} ΣΊΣΥΦΟΣ`, `&chat_id=${chat}`)).toEqual([greek.id]);
  });

  test("the older pass leaves out chats left or cleared, messages hidden or deleted, and chats of others", async () => {
    const word = freshWord();
    const left = await chatOf(server, "group", carol, [alice]);
    const cleared = await chatOf(server, "group", carol, [alice]);
    const kept = await chatOf(server, "group", carol, [alice]);
    const foreign = await chatOf(server, "group", carol, [bob]);
    await sendText(http, carol, left, `${word} in left`);
    await sendText(http, carol, cleared, `${word} before clear`);
    const hiddenForMe = await sendText(http, carol, kept, `${word} hidden for me`);
    const deletedForAll = await sendText(http, carol, kept, `${word} deleted for all`);
    const visible = await sendText(http, carol, kept, `${word} visible`);
    await sendText(http, carol, foreign, `${word} not alice's`);
    expect((await http.post(`/chats/${left}/leave`, { token: alice.token })).status).toBe(204);
    expect((await http.post(`/chats/${cleared}/clear`, { token: alice.token })).status).toBe(204);
    expect((await http.delete(`/messages/${hiddenForMe.id}?for_all=false`, { token: alice.token })).status).toBe(204);
    expect((await http.delete(`/messages/${deletedForAll.id}?for_all=true`, { token: carol.token })).status).toBe(204);
    await pushBelowWindow();

    expect(await search(alice, word)).toEqual([visible.id]);
    expect(await search(alice, word)).toEqual(await reference(alice, word, 50));
    expect(await search(carol, word)).toEqual(await reference(carol, word, 50));
    // A newer match in the window comes first; the older pass fills up behind it.
    const after = await sendText(http, carol, cleared, `${word} after clear`);
    expect(await search(alice, word)).toEqual([after.id, visible.id]);
    expect(await search(alice, word, "&limit=1")).toEqual([after.id]);
  });

  test("delivery_status is the same whichever pass found the message", async () => {
    const word = freshWord();
    const chat = await chatOf(server, "group", alice, [bob]);
    const older = await sendText(http, alice, chat, `${word} older`);
    expect((await http.post("/messages/status", { token: bob.token, body: { chat_id: chat, message_id: older.id, status: "message_read" } })).status).toBe(200);
    await pushBelowWindow();
    const newer = await sendText(http, alice, chat, `${word} newer`);
    const r = await http.get(`/messages/search?query=${word}`, { token: alice.token });
    expect(r.body.map((m: { id: number; delivery_status: string }) => [m.id, m.delivery_status])).toEqual([
      [newer.id, "sent"],
      [older.id, "read"],
    ]);
  });

  test("in one chat: the window below the chat's newest message, then its older matches, whatever the other chats hold", async () => {
    const word = freshWord();
    const chat = await chatOf(server, "group", alice, [bob]);
    const other = await chatOf(server, "group", alice, [bob]);
    const old = [];
    for (let i = 0; i < 3; i++) old.push((await sendText(http, bob, chat, `old ${word} ${i}`)).id);
    const hidden = await sendText(http, bob, chat, `old ${word} hidden`);
    const elsewhere = await sendText(http, bob, other, `${word} elsewhere`);
    expect((await http.delete(`/messages/${hidden.id}?for_all=false`, { token: alice.token })).status).toBe(204);
    await pushBelowWindow(chat);
    const recent = [];
    for (let i = 0; i < 2; i++) recent.push((await sendText(http, bob, chat, `new ${word} ${i}`)).id);
    const newestFirst = [...recent.reverse(), ...old.reverse()];
    // Newer traffic elsewhere does not move the chat's window.
    await pushBelowWindow();

    expect(await search(alice, word, `&chat_id=${chat}`)).toEqual(newestFirst);
    for (const limit of [1, 2, 3, 5]) expect(await search(alice, word, `&chat_id=${chat}&limit=${limit}`)).toEqual(await reference(alice, word, limit, chat));
    expect(await search(bob, word, `&chat_id=${chat}`)).toEqual(await reference(bob, word, 50, chat));
    expect(await search(bob, word, `&chat_id=${chat}`)).toContain(hidden.id);
    expect(await search(alice, word, `&chat_id=${other}`)).toEqual([elsewhere.id]);
    expect(await search(alice, freshWord(), `&chat_id=${chat}`)).toEqual([]);
  });

  // Pass 2 reads the index chat by chat for a caller in few chats and once for the table otherwise:
  // the same answer either way.
  for (const [label, chatCount] of [
    ["few", 3],
    ["more than FEW_CHATS", FEW_CHATS + 2],
  ] as const) {
    test(`a caller in ${label} chats: matches across them, above and below the window, newest first`, async () => {
      const word = freshWord();
      const dave = await createUser(server);
      const chats: number[] = [];
      for (let i = 0; i < chatCount; i++) chats.push(await chatOf(server, i % 3 ? "group" : "channel", carol, [dave]));
      const [left, cleared, kept] = chats as [number, number, number];
      const foreign = await chatOf(server, "group", carol, [bob]);
      const old: number[] = [];
      for (const [i, chat] of chats.entries()) old.push((await sendText(http, carol, chat, `${word} old ${i}`)).id);
      await sendText(http, carol, foreign, `${word} not dave's`);
      const hiddenForDave = await sendText(http, carol, kept, `${word} hidden for dave`);
      const deletedForAll = await sendText(http, carol, kept, `${word} deleted for all`);
      expect((await http.delete(`/messages/${hiddenForDave.id}?for_all=false`, { token: dave.token })).status).toBe(204);
      expect((await http.delete(`/messages/${deletedForAll.id}?for_all=true`, { token: carol.token })).status).toBe(204);
      expect((await http.post(`/chats/${left}/leave`, { token: dave.token })).status).toBe(204);
      expect((await http.post(`/chats/${cleared}/clear`, { token: dave.token })).status).toBe(204);
      // Below dave's window: filler in one of his chats; then, above his newest message, a busy
      // chat he is not in.
      await pushBelowWindow(kept);
      const visibleOld = old.filter((_, i) => i > 1).reverse();
      expect(await search(dave, word)).toEqual(visibleOld);
      await pushBelowWindow(foreign);
      expect(await search(dave, word)).toEqual(visibleOld);
      const newer = (await sendText(http, carol, chats[chatCount - 1] ?? kept, `${word.toUpperCase()} newer`)).id;
      expect(await search(dave, word)).toEqual([newer, ...visibleOld]);
      for (const limit of [1, 2, 3, 50]) expect(await search(dave, word, `&limit=${limit}`)).toEqual(await reference(dave, word, limit));
      expect(await search(carol, word)).toEqual(await reference(carol, word, 50));
      expect(await search(dave, freshWord())).toEqual([]);
    });
  }
});
