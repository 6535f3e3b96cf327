/**
 * Regression: under load a send answered 500 ("UNSAFE_TRANSACTION: Only use sql.begin, sql.reserved
 * or max: 1") and PostgreSQL logged "there is already a transaction in progress" (benchmark, send
 * at concurrency 128, 2026-11-24). postgres.js 3.4.9 reserves a transaction's connection only when
 * the BEGIN's write leaves room in the socket and the pipeline (porsager/postgres#1189); otherwise
 * the BEGIN stays open on a pooled connection, the transaction fails, and the next queries of
 * other callers run inside that open transaction (a later ROLLBACK would undo their writes). A
 * drained socket also handed a reserved connection back to the pool. patches/postgres@3.4.9.patch
 * fixes both. This test drives the pipeline boundary on purpose: with max_pipeline 1 a BEGIN
 * pipelined behind another caller's query always hits it (at the default of 100 the same happens
 * only when a socket is full); parameterised statements, as the app's, keep both connections busy.
 * Without the patch about one transaction in four fails here.
 * PostgreSQL pass only: PGlite does not use postgres.js.
 */
import { expect, test } from "bun:test";
import postgres from "postgres";
import { ownTestDatabase, usingPostgres } from "../helpers/server";

const databaseUrl = ownTestDatabase();

test.skipIf(!usingPostgres)("a transaction keeps its connection to itself when BEGIN fills the pipeline", async () => {
  const notices: string[] = [];
  // max_pipeline is a driver option its type declarations leave out.
  const options = { max: 2, max_pipeline: 1, onnotice: (n: postgres.Notice) => void notices.push(String(n.message)) };
  const sql = postgres(databaseUrl(), options as postgres.Options<{}>);
  const failures: string[] = [];
  let committed = 0;
  let plainQueries = 0;
  let plainInsideATransaction = 0;
  const payload = "x".repeat(100);

  // Each transaction marks itself with a transaction-local setting; a plain query that sees the
  // mark ran inside someone else's transaction.
  const transaction = () =>
    sql
      .begin(async (tx) => {
        await tx`select set_config('parley.test_tx', 'open', true), ${payload}::text`;
        await tx`select pg_sleep(0.001)`;
      })
      .then(
        () => void committed++,
        (err: Error) => void failures.push(err.message),
      );
  const plain = async () => {
    const [row] = await sql<{ mark: string }[]>`select coalesce(current_setting('parley.test_tx', true), '') as mark, ${payload}::text`;
    plainQueries++;
    if (row?.mark === "open") plainInsideATransaction++;
  };

  try {
    await Promise.all(
      Array.from({ length: 16 }, async (_, worker) => {
        for (let i = 0; i < 40; i++) await (worker % 2 === 0 ? transaction() : plain());
      }),
    );
  } finally {
    await sql.end({ timeout: 5 });
  }

  expect(failures).toEqual([]);
  expect(notices).toEqual([]);
  expect(committed).toBe(8 * 40);
  expect(plainQueries).toBe(8 * 40);
  expect(plainInsideATransaction).toBe(0);
}, 60_000);
