/**
 * Regression: the chat list found each private chat's counterpart with a scan that a LIMIT made
 * look cheap. The counterpart was `chat_members join users ... limit 1`: on the benchmark's quick
 * dataset the planner merged the chat's members with users in id order, reading every user below
 * the counterpart's id (0.2 ms per private chat at 2,000 users: 4.9 of the list's 6 ms of
 * PostgreSQL time); on this test's database it scanned chat_members until a row of the chat turned
 * up. The counterpart's id now comes first, ordered by user_id so that only the (chat_id, user_id)
 * key serves it, and their row is read by primary key.
 *
 * Shown with the plan itself, on a database of 3,000 users in two big groups, whose private chats
 * have counterparts among the last ids.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { queryRows } from "../../src/db/client";
import { intArray } from "../../src/db/sql-fragments";
import { chatReadsStatement } from "../../src/routers/chats/read-model";
import { startTestServer, type TestServer } from "../helpers/server";
import { planText } from "../helpers/plan-text";

let server: TestServer;
let viewerId = 0;
let chatIds: number[] = [];

beforeAll(async () => {
  server = await startTestServer();
  const db = server.app.db;
  await db.execute(sql`insert into users (email, name, username, password_hash)
    select 'cp' || g || '@example.com', 'User ' || g, 'cp_user_' || g, 'x' from generate_series(1, 3000) g`);
  const [viewer] = await queryRows<{ id: number }>(db, sql`select min(id) as id from users where username like 'cp_user_%'`);
  viewerId = Number(viewer?.id);
  const chats = await queryRows<{ id: number }>(
    db,
    sql`insert into chats (public_id, type) select 'cp-' || g, 'private' from generate_series(1, 40) g returning id`,
  );
  chatIds = chats.map((c) => Number(c.id));
  // The viewer and, in each chat, one of the last 40 users.
  await db.execute(sql`insert into chat_members (chat_id, user_id)
    select c.id, ${viewerId} from unnest(${intArray(chatIds)}::int[]) as c(id)
    union all
    select c.id, (select max(id) from users) - c.n from unnest(${intArray(chatIds)}::int[]) with ordinality as c(id, n)`);
  // Two groups of every user: chats average about 150 members, as on a server with big groups,
  // which is what made the merge join look cheap.
  const groups = await queryRows<{ id: number }>(
    db,
    sql`insert into chats (public_id, type) select 'cp-group-' || g, 'group' from generate_series(1, 2) g returning id`,
  );
  await db.execute(sql`insert into chat_members (chat_id, user_id)
    select g.id, u.id from unnest(${intArray(groups.map((g) => Number(g.id)))}::int[]) as g(id) cross join users u
    where u.username like 'cp_user_%'`);
  await db.execute(sql`analyze users`);
  await db.execute(sql`analyze chat_members`);
  await db.execute(sql`analyze chats`);
}, 180_000);
afterAll(() => server.stop());

const source = () => sql`select id, ord from unnest(${intArray(chatIds)}::int[]) with ordinality as i(id, ord)`;

test("each counterpart is found through the chat's member key and read by primary key", async () => {
  const rows = await queryRows<Record<string, string>>(server.app.db, sql`explain ${chatReadsStatement(viewerId, source())}`);
  const plan = planText(rows);
  expect(plan).not.toContain("Merge Join");
  expect(plan).not.toContain("Seq Scan on chat_members o");
  expect(plan).toMatch(/Index Only Scan using chat_members_chat_id_user_id_pk on chat_members o[^\n]*\n\s*Index Cond: \(chat_id = c\.id\)/);
  expect(plan).toMatch(/Index Scan using users_pkey on users ou[^\n]*\n\s*Index Cond: \(id = o\.user_id\)/);
});

test("the statement answers every chat with its counterpart", async () => {
  const rows = await queryRows<{ id: number; cp_id: number | null }>(server.app.db, chatReadsStatement(viewerId, source()));
  expect(rows.map((r) => Number(r.id))).toEqual(chatIds);
  const [top] = await queryRows<{ id: number }>(server.app.db, sql`select max(id) as id from users`);
  expect(rows.map((r) => Number(r.cp_id))).toEqual(chatIds.map((_, i) => Number(top?.id) - (i + 1)));
});
