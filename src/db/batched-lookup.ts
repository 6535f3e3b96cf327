/**
 * Coalesces the primary-key lookups that concurrent requests make in the same turn of the event
 * loop into one query (`where id = any($1)`).
 *
 * Why: a primary-key read costs PostgreSQL and the driver far more in per-statement overhead (a
 * socket write, a Bind/Execute round trip, an executor start) than in the row itself. Under load
 * several requests arrive per turn of the event loop; one statement for all of them saves that
 * overhead for each but one.
 *
 * Invariants:
 * - A lookup is never answered from an earlier query: the batch is sent after every lookup in it
 *   was asked (on the next turn of the loop), so it sees everything committed before any of them.
 * - A failed batch fails each of its lookups with that error; the next batch starts afresh.
 * - A batch holds at most `maxBatch` keys; more in one turn go out as several statements.
 */
export interface BatchedLookupOptions<K, R> {
  /** The rows for these distinct keys (in any order; missing keys have no row). */
  fetch(keys: K[]): Promise<R[]>;
  keyOf(row: R): K;
  maxBatch?: number;
}

interface Waiter<R> {
  resolve(row: R | undefined): void;
  reject(err: unknown): void;
}

export class BatchedLookup<K, R> {
  private pending = new Map<K, Waiter<R>[]>();
  private scheduled = false;
  private sent = 0;
  private readonly maxBatch: number;

  constructor(private readonly opts: BatchedLookupOptions<K, R>) {
    this.maxBatch = opts.maxBatch ?? 200;
  }

  /** Statements sent so far (tests, diagnostics). */
  get statementsSent(): number {
    return this.sent;
  }

  /** The row of `key`, or undefined when there is none. */
  load(key: K): Promise<R | undefined> {
    return new Promise<R | undefined>((resolve, reject) => {
      const waiters = this.pending.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else this.pending.set(key, [{ resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
    });
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = new Map();
    const keys = [...batch.keys()];
    for (let i = 0; i < keys.length; i += this.maxBatch) void this.run(keys.slice(i, i + this.maxBatch), batch);
  };

  private async run(keys: K[], batch: Map<K, Waiter<R>[]>): Promise<void> {
    let rows: R[];
    this.sent++;
    try {
      rows = await this.opts.fetch(keys);
    } catch (err) {
      for (const key of keys) for (const w of batch.get(key) ?? []) w.reject(err);
      return;
    }
    const byKey = new Map<K, R>();
    for (const row of rows) byKey.set(this.opts.keyOf(row), row);
    for (const key of keys) {
      const row = byKey.get(key);
      for (const w of batch.get(key) ?? []) w.resolve(row);
    }
  }
}
