/**
 * Regression: in the benchmark, after the send scenario, every read of the tailer took 70-130 ms
 * (PostgreSQL's slow-query log) and live frames stalled behind them (fan-out p99 150-165 ms, the
 * tailer 40,000 events behind, sends paying PostgreSQL CPU for it). Every statement is prepared,
 * and after five runs PostgreSQL may keep one generic plan for the statement, made with the table
 * sizes of that moment, until the table is analyzed again. The tailer's first reads ran while
 * `user_events` was empty, so the plan it kept read `user_events` by sequential scan and sorted it;
 * with autovacuum off (this machine) nothing analyzes the table again, and with it on only after
 * the next autoanalyze. The event log's readers are now planned on every execution
 * (`plannedEachTime`, src/db/client.ts).
 *
 * Shown with PostgreSQL's own counters: after the log grew, the reads must not scan `user_events`
 * sequentially. One connection, so the statement's plan cache is the one being tested.
 * PostgreSQL pass only: PGlite has no statement cache across calls.
 */
import { expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { queryRows, type Database } from "../../src/db/client";
import { logBounds, readLog, readVisible } from "../../src/realtime/replay";
import { planCacheDatabase } from "../helpers/plan-cache-database";
import { usingPostgres } from "../helpers/server";

const scratch = planCacheDatabase();

async function sequentialScansOfUserEvents(db: Database["db"]): Promise<number> {
  // This backend's pending counters are flushed at the end of the next transaction.
  await queryRows(db, sql`select pg_stat_force_next_flush()`);
  await queryRows(db, sql`select 1`);
  const rows = await queryRows<{ n: string | number }>(db, sql`select seq_scan as n from pg_stat_user_tables where relname = 'user_events'`);
  return Number(rows[0]?.n ?? 0);
}

test.skipIf(!usingPostgres)("the event log's readers do not keep a plan made while the log was empty", async () => {
  const db = scratch.get();
  await queryRows(db, sql`vacuum analyze user_events`);
  await queryRows(db, sql`vacuum analyze chat_events`);
  // Enough runs for PostgreSQL to settle on a generic plan while user_events is empty.
  for (let i = 0; i < 10; i++) {
    await readLog(db, 0, 500);
    await readVisible(db, 1, 0, null, 100);
    await logBounds(db);
  }
  await queryRows(
    db,
    sql`insert into user_events (user_id, seq, type, data)
        select g % 1000 + 1, g, 'notification', '{"notification": {"id": 1}}'::jsonb from generate_series(1, 200000) g`,
  );
  const before = await sequentialScansOfUserEvents(db);
  for (let i = 0; i < 5; i++) {
    expect(await readLog(db, 199_990, 500)).toHaveLength(10);
    expect(await readVisible(db, 1, 199_000, null, 100)).toHaveLength(1);
    expect((await logBounds(db)).head).toBe(200_000);
  }
  expect(await sequentialScansOfUserEvents(db)).toBe(before);
}, 60_000);
