/**
 * Regression (resource audit, 2026-11-25): message search's older pass for a caller in few chats was
 * meant to read the trigram index chat by chat, but PostgreSQL flattened its lateral subquery into a
 * join and read every match in the table first (50,000 matches in other users' chats: 106 ms for a
 * caller with none, and every such search paid it). Shown with the statement's own execution: the
 * rows it reads from `messages` are the caller's chat's, not the others'.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { queryRows } from "../../src/db/client";
import { olderMatchesChatByChat } from "../../src/routers/messages/search";
import { startTestServer, type TestServer } from "../helpers/server";

let server: TestServer;
let caller = 0;

beforeAll(async () => {
  server = await startTestServer();
  const db = server.app.db;
  const users = await queryRows<{ id: number }>(
    db,
    sql`insert into users (email, name, username, password_hash)
        select 'older' || g || '@example.com', 'Older', 'older_' || g, 'x' from generate_series(1, 2) g returning id`,
  );
  caller = Number(users[0]?.id);
  const other = Number(users[1]?.id);
  const chats = await queryRows<{ id: number }>(db, sql`insert into chats (public_id, type) select 'older-' || g, 'group' from generate_series(1, 2) g returning id`);
  const [mine, theirs] = chats.map((c) => Number(c.id));
  await db.execute(sql`insert into chat_members (chat_id, user_id, role) values (${mine}, ${caller}, 'owner'), (${theirs}, ${other}, 'owner')`);
  // The caller's chat has no match; the other chat has 50,000 (as the audit measured).
  await db.execute(sql`insert into messages (chat_id, chat_seq, sender_id, type, text)
    select ${mine}, 0, ${caller}, 'text', 'nothing here ' || g from generate_series(1, 200) g`);
  await db.execute(sql`insert into messages (chat_id, chat_seq, sender_id, type, text)
    select ${theirs}, 0, ${other}, 'text', 'a commonword ' || g from generate_series(1, 50000) g`);
  await db.execute(sql`analyze messages`);
  await db.execute(sql`analyze chat_members`);
}, 60_000);

afterAll(async () => {
  await server.stop();
});

interface PlanNode {
  "Relation Name"?: string;
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  Plans?: PlanNode[];
}

/** Rows every node reading `messages` produced, over all its loops. */
function messageRowsRead(node: PlanNode): number {
  const own = node["Relation Name"] === "messages" ? (node["Actual Rows"] ?? 0) * (node["Actual Loops"] ?? 1) : 0;
  return own + (node.Plans ?? []).reduce((sum, child) => sum + messageRowsRead(child), 0);
}

test("the older pass for a caller in few chats reads only their chats' matches", async () => {
  const db = server.app.db;
  const statement = olderMatchesChatByChat(caller, "commonword", Number.MAX_SAFE_INTEGER);
  const found = await queryRows<{ id: number }>(db, statement);
  expect(found).toEqual([]);
  // The planner's own choice, as in production (without `offset 0` it drove the join from the
  // 50,000 matches and read every one of them).
  const plans = await queryRows<{ "QUERY PLAN": unknown }>(db, sql`explain (analyze, format json) ${statement}`);
  const raw = plans[0]?.["QUERY PLAN"];
  const parsed = (typeof raw === "string" ? JSON.parse(raw) : raw) as { Plan: PlanNode }[];
  const root = parsed[0]?.Plan;
  if (!root) throw new Error(`no plan: ${JSON.stringify(plans)}`);
  expect(messageRowsRead(root)).toBe(0);
});
