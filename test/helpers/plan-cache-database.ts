/**
 * A scratch PostgreSQL database reached through one connection, for tests of PostgreSQL's
 * statement cache: with one connection, the statements a test runs and the cache it inspects
 * belong to the same session. Registers its own setup and teardown; PostgreSQL pass only (PGlite
 * keeps no statement cache across calls), so `get()` throws when asked without it.
 */
import { afterAll, beforeAll } from "bun:test";
import { openDatabase, type Database } from "../../src/db/client";
import { createTestDatabase, usingPostgres } from "./server";

export function planCacheDatabase(): { get(): Database["db"] } {
  let scratch: { url: string; drop: () => Promise<void> } | undefined;
  let database: Database | undefined;
  beforeAll(async () => {
    if (!usingPostgres) return;
    scratch = await createTestDatabase();
    database = await openDatabase({ databaseUrl: scratch.url, maxConnections: 1 });
    await database.migrate();
  }, 60_000);
  afterAll(async () => {
    await database?.close();
    await scratch?.drop();
  }, 30_000);
  return {
    get() {
      if (!database) throw new Error("no scratch database (PostgreSQL pass only)");
      return database.db;
    },
  };
}
