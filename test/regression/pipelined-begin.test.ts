/**
 * Transactions whose BEGIN is pipelined with their statements (postgres.js's `sql.begin` as
 * patches/postgres@3.4.9.patch changes it: BEGIN's answer is not waited for): they stay
 * transactions (one transaction id, settings local to them, all or nothing), and a connection that
 * dies inside one fails that one and leaves the pool usable (a statement sent on it after it closed
 * threw an uncaught TypeError). PostgreSQL pass only: PGlite does not use postgres.js.
 */
import { describe, expect, test } from "bun:test";
import postgres from "postgres";
import { ownTestDatabase, usingPostgres } from "../helpers/server";

const databaseUrl = ownTestDatabase();

type Begin = <T>(fn: (tx: postgres.TransactionSql) => T | Promise<T>) => Promise<T>;

function pool(max: number): { sql: postgres.Sql; begin: Begin } {
  const sql = postgres(databaseUrl(), { max, onnotice: () => {} });
  return { sql, begin: (fn) => sql.begin(fn) as never };
}

describe.skipIf(!usingPostgres)("pipelined transactions", () => {
  test("statements share one transaction, whose local settings plain queries on the same pool never see", async () => {
    const { sql, begin } = pool(2);
    try {
      const seenInside: string[] = [];
      const xids = new Set<string>();
      let plainSawMark = 0;
      const transaction = () =>
        begin(async (tx) => {
          const [a] = await tx<{ x: string }[]>`select set_config('parley.test_tx', 'open', true), txid_current()::text as x`;
          const [b] = await tx<{ mark: string; x: string }[]>`select current_setting('parley.test_tx', true) as mark, txid_current()::text as x`;
          if (!a || !b) throw new Error("no rows");
          seenInside.push(b.mark);
          xids.add(a.x === b.x ? a.x : `different: ${a.x} ${b.x}`);
        });
      const plain = async () => {
        const [row] = await sql<{ mark: string }[]>`select coalesce(current_setting('parley.test_tx', true), '') as mark`;
        if (row?.mark === "open") plainSawMark++;
      };
      await Promise.all(Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; i < 25; i++) await (w % 2 === 0 ? transaction() : plain());
      }));
      expect(seenInside).toEqual(Array.from({ length: 100 }, () => "open"));
      expect([...xids].filter((x) => x.startsWith("different"))).toEqual([]);
      expect(xids.size).toBe(100);
      expect(plainSawMark).toBe(0);
    } finally {
      await sql.end({ timeout: 5 });
    }
  }, 60_000);

  test("all or nothing: a thrown callback and a failed statement nobody awaited leave nothing behind", async () => {
    const { sql, begin } = pool(2);
    try {
      await sql`create table pipelined_rows (id int primary key)`;
      await expect(
        begin(async (tx) => {
          await tx`insert into pipelined_rows values (1)`;
          throw new Error("changed my mind");
        }),
      ).rejects.toThrow("changed my mind");
      // postgres.js resolves this one (COMMIT of a failed transaction answers ROLLBACK, no error;
      // transact.ts awaits its event write for that reason): nothing of it may stay.
      await begin(async (tx) => {
        await tx`insert into pipelined_rows values (2)`;
        tx`insert into pipelined_rows values (2)`.catch(() => {});
      }).catch(() => {});
      await begin(async (tx) => {
        await tx`insert into pipelined_rows values (3)`;
      });
      const rows = await sql<{ id: number }[]>`select id from pipelined_rows order by id`;
      expect(rows.map((r) => r.id)).toEqual([3]);
    } finally {
      await sql.end({ timeout: 5 });
    }
  }, 30_000);

  test("a connection killed inside a transaction fails that one; the pool connects again for the next", async () => {
    const { sql, begin } = pool(1);
    const admin = pool(1).sql;
    try {
      for (let round = 0; round < 3; round++) {
        const failed = await begin(async (tx) => {
          const [me] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
          await admin`select pg_terminate_backend(${me?.pid ?? 0})`;
          await tx`select 1`;
        }).then(
          () => "committed",
          (err: { code?: string }) => err.code ?? "error",
        );
        // The reset or the close, whichever the driver saw first.
        expect(failed).toMatch(/^(CONNECTION_CLOSED|ECONNRESET)$/);
        const [plain] = await sql<{ ok: number }[]>`select 1 as ok`;
        expect(plain?.ok).toBe(1);
        const [inTx] = await begin(async (tx) => tx<{ ok: number }[]>`select 2 as ok`);
        expect(inTx?.ok).toBe(2);
      }
    } finally {
      await sql.end({ timeout: 5 });
      await admin.end({ timeout: 5 });
    }
  }, 30_000);
});
