/**
 * Prepared drizzle queries, built once per database handle. Building a query (column casing, SQL
 * assembly) costs more CPU than running a primary-key lookup, so the per-request hot paths (the
 * session check, the caller's own row) keep theirs here.
 */
import type { Db } from "./client";

const cache = new WeakMap<Db, Map<string, unknown>>();

export function prepared<T>(db: Db, name: string, build: (db: Db) => T): T {
  let perDb = cache.get(db);
  if (!perDb) cache.set(db, (perDb = new Map()));
  let query = perDb.get(name) as T | undefined;
  if (query === undefined) {
    query = build(db);
    perDb.set(name, query);
  }
  return query;
}
