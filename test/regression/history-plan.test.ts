/**
 * Regression: the history page's cached generic plan read the whole chat. PostgreSQL caches one
 * generic plan per prepared statement, made without the chat id, and for it the cheapest way to the
 * page's order looked like any small index leading with chat_id plus an incremental sort of "one
 * chat's few rows": `messages_reply_idx` (chat_id, reply_to_message_id), tiny because its NULLs
 * deduplicate, and, without it, `messages_client_id_key`. On the benchmark database every page then
 * read and sorted all 1,853 messages of its chat (2.6 ms of PostgreSQL CPU per page instead of
 * about 0.3; a chat of 100,000 messages would cost 100 ms). Both indexes now hold only the rows
 * they exist for (a reply, a client id), so the primary key is the only index that leads with
 * chat_id.
 *
 * Shown with the plan itself: the statement is prepared and explained with the generic plan
 * forced, on a database of many small chats and one big one, analyzed.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import { queryRows } from "../../src/db/client";
import { historyPageQuery } from "../../src/routers/messages/service";
import { startTestServer, type TestServer } from "../helpers/server";
import { planText } from "../helpers/plan-text";

let server: TestServer;
let userId = 0;
let bigChat = 0;

beforeAll(async () => {
  server = await startTestServer();
  const db = server.app.db;
  const [user] = await queryRows<{ id: number }>(
    db,
    sql`insert into users (email, name, username, password_hash) values ('plan@example.com', 'Plan', 'plan_reader', 'x') returning id`,
  );
  userId = Number(user?.id);
  await db.execute(sql`insert into chats (public_id, type) select 'plan-' || g, 'group' from generate_series(1, 300) g`);
  const [big] = await queryRows<{ id: number }>(db, sql`select min(id) as id from chats where public_id like 'plan-%'`);
  bigChat = Number(big?.id);
  // 300 chats of 30 messages, the first of them 2,000 more; some replies, no client ids.
  await db.execute(sql`insert into messages (chat_id, chat_seq, sender_id, type, text)
    select c.id, 0, ${userId}, 'text', 'm' from chats c cross join generate_series(1, 30) where c.public_id like 'plan-%'`);
  await db.execute(sql`insert into messages (chat_id, chat_seq, sender_id, type, text, reply_to_message_id)
    select ${bigChat}, 0, ${userId}, 'text', 'm', case when g % 50 = 0 then g end from generate_series(1, 2000) g`);
  await db.execute(sql`insert into chat_members (chat_id, user_id) values (${bigChat}, ${userId})`);
  await db.execute(sql`analyze messages`);
  await db.execute(sql`analyze chat_members`);
}, 180_000);
afterAll(() => server.stop());

/** EXPLAIN of the statement's generic plan: prepared with $n parameters, executed with the values. */
async function genericPlan(query: ReturnType<typeof historyPageQuery>): Promise<string> {
  const { sql: text, params } = new PgDialect().sqlToQuery(query);
  const values = params.map((p) => String(Number(p))).join(", ");
  return server.app.db.transaction(async (tx) => {
    await tx.execute(sql`set local plan_cache_mode = force_generic_plan`);
    await tx.execute(sql.raw(`prepare history_generic as ${text}`));
    const rows = await queryRows<Record<string, string>>(tx, sql.raw(`explain execute history_generic(${values})`));
    await tx.execute(sql.raw("deallocate history_generic"));
    return planText(rows);
  });
}

for (const [label, input] of [
  ["the newest page", { limit: 50 }],
  ["a page before an id", { limit: 50, before_id: 1500 }],
] as const) {
  test(`${label} walks the chat's primary key backwards, without sorting the chat`, async () => {
    const plan = await genericPlan(historyPageQuery(userId, { chat_id: bigChat, ...input }));
    expect(plan).toContain("Index Scan Backward using messages_chat_id_id_pk on messages m");
    expect(plan).not.toContain("Sort Key: m.chat_id");
  });
}

test("the page itself: 50 newest first, and the next 50 below them", async () => {
  const first = await queryRows<{ id: number }>(server.app.db, historyPageQuery(userId, { chat_id: bigChat, limit: 50 }));
  const ids = first.map((r) => Number(r.id));
  expect(ids).toHaveLength(50);
  expect([...ids].sort((a, b) => b - a)).toEqual(ids);
  const [max] = await queryRows<{ id: number }>(server.app.db, sql`select max(id) as id from messages where chat_id = ${bigChat}`);
  expect(ids[0]).toBe(Number(max?.id));
  const next = await queryRows<{ id: number }>(server.app.db, historyPageQuery(userId, { chat_id: bigChat, limit: 50, before_id: ids[49] ?? 0 }));
  expect(next[0] && Number(next[0].id)).toBeLessThan(ids[49] ?? 0);
  expect(next).toHaveLength(50);
});
