/**
 * Regression: every send planned its event-log write again. PostgreSQL's statement log showed
 * 0.16-0.24 ms in Bind for it on every send, against 0.01 ms for the other statements; sends cost
 * about 0.1 ms more PostgreSQL CPU each (a sixth of a send's). The statement drew its positions
 * from `generate_series(1, $n)`, whose row estimate followed the parameter, so the cached generic
 * plan always looked costlier than a custom one and PostgreSQL never used it. The positions are
 * now drawn from the event rows themselves.
 *
 * Shown with PostgreSQL's own counters: after enough sends on one connection, the statement runs
 * with its generic plan. PostgreSQL pass only: PGlite has no statement cache across calls.
 */
import { expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { queryRows } from "../../src/db/client";
import { EventSink, writeEvents } from "../../src/realtime/event-log";
import { planCacheDatabase } from "../helpers/plan-cache-database";
import { usingPostgres } from "../helpers/server";

const scratch = planCacheDatabase();

test.skipIf(!usingPostgres)("the event-log write runs with its cached generic plan, whatever the number of events", async () => {
  const db = scratch.get();
  for (let n = 1; n <= 12; n++) {
    await db.transaction(async (tx) => {
      const sink = new EventSink();
      for (let k = 0; k < (n % 4) + 1; k++) sink.toUser(1000 + k, "notification", { notification: { id: n * 10 + k } });
      sink.toChat(1, "message_created", { message: { id: n } });
      await writeEvents(tx, sink);
    });
  }
  const plans = await queryRows<{ generic_plans: string | number; custom_plans: string | number }>(
    db,
    // This query is prepared too, and names what it looks for: it is left out.
    sql`select generic_plans, custom_plans from pg_prepared_statements
        where statement like '%insert into user_events%' and statement not like '%pg_prepared_statements%'`,
  );
  expect(plans).toHaveLength(1);
  // PostgreSQL plans the first five runs for their parameters, then settles on the generic plan.
  expect(Number(plans[0]?.custom_plans)).toBeLessThanOrEqual(5);
  expect(Number(plans[0]?.generic_plans)).toBeGreaterThanOrEqual(7);
});
