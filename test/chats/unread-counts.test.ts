/**
 * ChatRead's unread_count and unread_mentions_count come from message positions (chats/unread.ts),
 * not from counting the unread messages. These tests hold the served counts against the definition
 * counted row by row, keep positions dense under concurrent sends, and check that a member far
 * behind costs no more to count than one just behind.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { queryRows } from "../../src/db/client";
import { chatReadsStatement } from "../../src/routers/chats/read-model";
import { renumberMessages } from "../helpers/fixtures";
import { client } from "../helpers/http";
import { planText } from "../helpers/plan-text";
import { startTestServer, type TestServer } from "../helpers/server";
import type { TestUser } from "../helpers/users";
import { createGroup, createUsers, sendText, type Http } from "./helpers";

let server: TestServer;
let http: Http;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  [alice, bob, carol] = await createUsers(server, 3);
});
afterAll(() => server.stop());

/** The definition (CONTRACT §5), one row at a time: what the statement counted before positions. */
async function referenceCounts(chatId: number, user: TestUser) {
  const [row] = await queryRows<{ unread: string | number; mentions: string | number }>(
    server.app.db,
    sql`select count(*) as unread,
          count(*) filter (where exists (select 1 from message_mentions mm where mm.chat_id = m.chat_id and mm.user_id = ${user.id} and mm.message_id = m.id)) as mentions
        from messages m join chat_members cm on cm.chat_id = m.chat_id and cm.user_id = ${user.id}
        where m.chat_id = ${chatId} and m.id > greatest(cm.last_read_message_id, cm.cleared_before_message_id)
          and m.sender_id <> ${user.id} and m.deleted_at is null
          and not exists (select 1 from message_hides h where h.chat_id = m.chat_id and h.user_id = ${user.id} and h.message_id = m.id)`,
  );
  return { unread_count: Number(row?.unread), unread_mentions_count: Number(row?.mentions) };
}

async function servedCounts(chatId: number, user: TestUser) {
  const r = await http.get(`/chats/${chatId}`, { token: user.token });
  expect(r.status).toBe(200);
  return { unread_count: r.body.unread_count, unread_mentions_count: r.body.unread_mentions_count };
}

describe("unread counts from positions", () => {
  test("match the definition through sends, mentions, reads, deletions for all and for me, and clearing", async () => {
    const chatId = (await createGroup(http, alice, { members: [bob, carol] })).id;
    const users = [alice, bob, carol];
    const expectDefinition = async (label: string) => {
      for (const u of users) expect({ label, user: u.username, ...(await servedCounts(chatId, u)) }).toEqual({ label, user: u.username, ...(await referenceCounts(chatId, u)) });
    };

    const ids: number[] = [];
    for (let i = 0; i < 12; i++) {
      const sender = users[i % 3] as TestUser;
      const other = users[(i + 1) % 3] as TestUser;
      ids.push(await sendText(http, sender, chatId, i % 4 === 0 ? `hi @${other.username} ${i}` : `message ${i}`));
    }
    await expectDefinition("after sends");
    expect((await servedCounts(chatId, bob)).unread_count).toBe(8);

    expect((await http.post("/messages/status", { token: bob.token, body: { chat_id: chatId, message_id: ids[4], status: "message_read" } })).status).toBe(200);
    await expectDefinition("after bob read up to the fifth");

    // Deleted for all: one of alice's and one of carol's, both above bob's mark; one below it.
    for (const [user, id] of [[alice, ids[6]], [carol, ids[8]], [alice, ids[3]]] as const)
      expect((await http.delete(`/messages/${id}?for_all=true`, { token: user.token })).status).toBe(204);
    await expectDefinition("after deletions for all");

    // Deleted for bob only: carol's message above his mark, and one of his own.
    for (const id of [ids[11], ids[10]]) expect((await http.delete(`/messages/${id}?for_all=false`, { token: bob.token })).status).toBe(204);
    await expectDefinition("after bob's deletions for himself");

    expect((await http.post(`/chats/${chatId}/clear`, { token: carol.token })).status).toBe(204);
    await expectDefinition("after carol cleared her history");
    expect((await servedCounts(chatId, carol)).unread_count).toBe(0);

    for (let i = 0; i < 5; i++) ids.push(await sendText(http, i % 2 ? alice : carol, chatId, `later @${bob.username} ${i}`));
    await expectDefinition("after more sends");
    expect((await servedCounts(chatId, bob)).unread_mentions_count).toBeGreaterThan(0);

    expect((await http.post("/messages/status", { token: bob.token, body: { chat_id: chatId, message_id: ids.at(-1), status: "message_read" } })).status).toBe(200);
    expect(await servedCounts(chatId, bob)).toEqual({ unread_count: 0, unread_mentions_count: 0 });
    await expectDefinition("after bob read everything");
  });

  test("concurrent sends into one chat take positions 1..n, and an idempotent retry takes none", async () => {
    const chatId = (await createGroup(http, alice, { members: [bob, carol] })).id;
    const senders = [alice, bob, carol];
    await Promise.all(Array.from({ length: 30 }, (_, i) => sendText(http, senders[i % 3] as TestUser, chatId, `parallel ${i}`)));
    const retry = { chat_id: chatId, text: "once", client_message_id: `cid-${chatId}` };
    for (let i = 0; i < 2; i++) expect((await http.post("/messages", { token: alice.token, body: retry })).status).toBe(201);

    const rows = await queryRows<{ chat_seq: string | number }>(server.app.db, sql`select chat_seq from messages where chat_id = ${chatId} order by id`);
    expect(rows.map((r) => Number(r.chat_seq))).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
    const [chat] = await queryRows<{ message_count: string | number }>(server.app.db, sql`select message_count from chats where id = ${chatId}`);
    expect(Number(chat?.message_count)).toBe(31);
    expect(await servedCounts(chatId, bob)).toEqual(await referenceCounts(chatId, bob));
  });

  test("a member 5,000 messages behind is counted without reading those messages", async () => {
    const chatId = (await createGroup(http, alice, { members: [bob] })).id;
    const db = server.app.db;
    await db.execute(sql`insert into messages (chat_id, chat_seq, sender_id, type, text)
      select ${chatId}, 0, ${alice.id}, 'text', 'backlog ' || g from generate_series(1, 5000) g`);
    await renumberMessages(db, [chatId]);
    await db.execute(sql`update chats set last_message_id = (select max(id) from messages where chat_id = ${chatId}) where id = ${chatId}`);
    await db.execute(sql`analyze messages`);
    expect(await servedCounts(chatId, bob)).toEqual({ unread_count: 5000, unread_mentions_count: 0 });

    const statement = chatReadsStatement(bob.id, sql`select ${chatId}::int as id, 1 as ord`);
    const plan = planText(await queryRows(db, sql`explain (analyze, buffers) ${statement}`));
    // The top node's buffers cover the whole statement. Row by row it read every unread message
    // and probed message_hides and message_mentions for each (over 10,000 buffers).
    const top = /Buffers: shared hit=(\d+)(?: read=(\d+))?/.exec(plan);
    expect(top).not.toBeNull();
    const buffers = Number(top?.[1] ?? 0) + Number(top?.[2] ?? 0);
    expect(buffers).toBeLessThan(300);
  });
});
