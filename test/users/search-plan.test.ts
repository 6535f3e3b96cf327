/**
 * Search stays index-bound at any size only if every branch's expressions match an index exactly
 * (lower(), collate "C", gin_trgm_ops). With sequential scans priced out, the plan must name each
 * index and contain no Seq Scan, on PGlite and PostgreSQL alike.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { queryRows } from "../../src/db/client";
import { searchHitsQuery } from "../../src/routers/users/search";
import { startTestServer, type TestServer } from "../helpers/server";
import { planText } from "../helpers/plan-text";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
}, 180_000);
afterAll(() => server.stop());

async function planOf(term: string): Promise<string> {
  return server.app.db.transaction(async (tx) => {
    await tx.execute(sql`set local enable_seqscan = off`);
    const rows = await queryRows<Record<string, string>>(tx, sql`explain ${searchHitsQuery(1, term, 20)}`);
    return planText(rows);
  });
}

test("a 3+ character query uses the unique, prefix and trigram indexes and never scans the table", async () => {
  const plan = await planOf("Ali_ce");
  for (const index of ["users_username_lower_key", "users_email_key", "users_username_prefix", "users_name_prefix", "users_username_trgm", "users_name_trgm"])
    expect(plan).toContain(index);
  expect(plan).not.toContain("Seq Scan");
});

test("a 2-character query still serves exact and prefix branches from indexes", async () => {
  const plan = await planOf("al");
  for (const index of ["users_username_lower_key", "users_email_key", "users_username_prefix", "users_name_prefix"]) expect(plan).toContain(index);
});
