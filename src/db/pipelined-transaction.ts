/**
 * Transactions over postgres.js whose BEGIN goes out in the same pipeline as their first
 * statement. postgres.js's own `sql.begin` waits for BEGIN's answer before it lets the callback
 * run: one round trip and one socket write per transaction that carry nothing (a send pays four
 * writes to PostgreSQL, and those writes are most of the server's CPU under sends; see
 * docs/performance.md). Here the transaction reserves a connection, writes BEGIN without waiting,
 * and the callback's statements queue behind it on that connection.
 *
 * PostgreSQL runs a pipeline in order, so the statements run inside the transaction BEGIN opened.
 * A BEGIN that fails fails because the connection did, and then so does everything behind it.
 * No savepoints (nested transactions): nothing here uses them.
 */
import type postgres from "postgres";

type Sql = postgres.Sql;
/** A reserved connection; `lost` is added by patches/postgres@3.4.9.patch. */
type Reservation = postgres.ReservedSql & { lost: Promise<Error> };

/**
 * `client.begin(fn)` with BEGIN pipelined. `prepare` wraps the reserved connection as the pool's
 * other handles are (named statements). Options (isolation levels) are not taken: none of our
 * transactions sets one.
 */
export function pipelinedBegin(client: Sql, prepare: (tx: Sql) => Sql) {
  return async function begin<T>(fn: (tx: Sql) => T | Promise<T>): Promise<T> {
    const connection = (await client.reserve()) as Reservation;
    const tx = prepare(connection as unknown as Sql);
    // A statement in flight when its connection closes may never settle (postgres.js rejects
    // only what was sent before a socket error): every wait below also ends when it closes.
    let lost = false;
    const closed = connection.lost.then((err) => {
      lost = true;
      throw err;
    });
    closed.catch(() => {});
    const orClosed = <R>(work: PromiseLike<R> | R): Promise<R> => Promise.race([Promise.resolve(work), closed]);

    const opened = tx.unsafe("begin").execute();
    // Its failure is the connection's: reported through the statements behind it.
    opened.catch(() => {});
    try {
      const result = await orClosed(fn(tx));
      await orClosed(opened);
      // PostgreSQL answers COMMIT with ROLLBACK when a statement of the transaction failed that
      // the callback did not wait for: that is no success.
      const done = await orClosed(tx.unsafe("commit"));
      if (done.command === "ROLLBACK") throw new Error("transaction rolled back at commit: one of its statements failed");
      return result;
    } catch (err) {
      if (!lost) await orClosed(tx.unsafe("rollback")).catch(() => {});
      throw err;
    } finally {
      // A connection that closed while reserved is in the pool's closed queue already, to be
      // connected again on demand: release then leaves it there (the patch).
      connection.release();
    }
  };
}
