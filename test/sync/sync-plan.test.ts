/**
 * /sync and WebSocket resume read `visibleEventsQuery`. When the planner walks the log in position
 * order (the cheap plan for a user in many chats), the walk must start at `since`: a bound hidden
 * inside `greatest(since, joined_seq)` cannot start an index scan, and on the benchmark's log every
 * page walked the index from the first event (p50 0.6-0.8 s per page). Sorting is priced out here
 * so that PGlite and PostgreSQL both pick the ordered walk on a small database.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { queryRows } from "../../src/db/client";
import { visibleEventsQuery } from "../../src/realtime/replay";
import { startTestServer, type TestServer } from "../helpers/server";
import { planText } from "../helpers/plan-text";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
}, 180_000);
afterAll(() => server.stop());

test("the ordered walk of the chat log starts at since", async () => {
  const plan = await server.app.db.transaction(async (tx) => {
    await tx.execute(sql`set local enable_sort = off`);
    await tx.execute(sql`set local enable_seqscan = off`);
    const rows = await queryRows<Record<string, string>>(tx, sql`explain ${visibleEventsQuery(1, 12345, null, 101)}`);
    return planText(rows);
  });
  const lines = plan.split("\n");
  const walk = lines.findIndex((l) => l.includes("chat_events_seq_idx"));
  expect(walk).toBeGreaterThanOrEqual(0);
  expect(lines[walk + 1]).toMatch(/Index Cond: .*\(seq > '?12345'?/);
});
