/**
 * One drizzle database over either postgres.js (DATABASE_URL) or embedded PGlite (DATA_DIR/pglite).
 * Both speak the same SQL and run the same migrations from ./drizzle.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { getTableColumns, sql, type SQL, type Table } from "drizzle-orm";
import { toSnakeCase } from "drizzle-orm/casing";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { lockDirectory } from "./data-dir-lock";
import * as schema from "./schema";

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
/** A transaction handle; everything that takes a Db also takes a Tx. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
export type DbOrTx = Db | Tx;

export interface Database {
  db: Db;
  kind: "postgres" | "pglite";
  /** True when a trivial query answers within `timeoutMs`. */
  ping(timeoutMs?: number): Promise<boolean>;
  /** One round trip; throws the driver's error (start-up checks name its cause). */
  connect(): Promise<void>;
  migrate(): Promise<void>;
  /**
   * True when every migration of this build (drizzle/meta/_journal.json) is applied. Remembered
   * once true: migrations are not rolled back under a running server.
   */
  migrationsApplied(): Promise<boolean>;
  close(): Promise<void>;
}

export const MIGRATIONS_FOLDER = resolve(import.meta.dir, "../../drizzle");

export interface DatabaseOptions {
  databaseUrl?: string;
  /** PGlite data directory; `memory://` keeps it in memory (tests). */
  pgliteDir?: string;
  maxConnections?: number;
}

/**
 * Connections per instance. Fewer than concurrent requests on purpose: when every connection is
 * busy, postgres.js pipelines further queries onto them and sends each connection's queued queries
 * in one socket write, and a write through Bun's node:net emulation costs more CPU than the query
 * it carries (measured at 32 concurrent primary-key reads: 42-49 µs of client CPU per query with
 * 20 connections, 31 with 10, 17-23 with 4). PostgreSQL itself has few cores to run them on.
 * Transactions reserve a connection each, so the pool is not smaller than that. `DATABASE_POOL_SIZE`
 * sets it per deployment (more cores for PostgreSQL, more concurrent transactions).
 */
export const DEFAULT_MAX_CONNECTIONS = 8;

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  if (opts.databaseUrl) return openPostgres(opts.databaseUrl, opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS);
  return openPglite(opts.pgliteDir ?? "memory://");
}

async function openPostgres(url: string, max: number): Promise<Database> {
  const { default: postgres } = await import("postgres");
  const { drizzle } = await import("drizzle-orm/postgres-js");
  const { migrate } = await import("drizzle-orm/postgres-js/migrator");
  // connect_timeout keeps requests failing fast (503) while PostgreSQL is down. postgres.js waits
  // before reconnecting after a failed attempt, and its default wait grows to 20 s: queries queue
  // behind it meanwhile (requests hung for up to 20 s) and recovery after an outage took as long.
  // Capped at 1 s: a query waits at most that long for the next attempt (test/faults).
  const client = postgres(url, { max, onnotice: () => {}, connect_timeout: 5, idle_timeout: 60, backoff: reconnectDelaySeconds });
  const db = drizzle(alwaysPrepared(client), { schema, casing: "snake_case" }) as unknown as Db;
  return {
    db,
    kind: "postgres",
    ping: (timeoutMs = 2000) => withTimeout(client`select 1`.then(() => true), timeoutMs),
    connect: async () => {
      await client`select 1`;
    },
    migrationsApplied: migrationsAppliedCheck(db),
    migrate: async () => {
      // Concurrent instances starting together must not migrate twice at once.
      await client.begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(7391001)`;
      });
      await migrate(db as never, { migrationsFolder: MIGRATIONS_FOLDER });
    },
    close: () => client.end({ timeout: 5 }),
  };
}

/** Seconds before the next connection attempt after `retries` failed ones: 0.05, 0.1, 0.2 ... 1. */
export const reconnectDelaySeconds = (retries: number): number => Math.min(0.05 * 2 ** retries, 1);

type PgClient = import("postgres").Sql;

const PLANNED_EACH_TIME = "/* planned each time */ ";

/**
 * `query` planned on every execution (an unnamed statement) instead of prepared. After five runs
 * PostgreSQL may keep one generic plan for a prepared statement, made with the table sizes of that
 * moment, until the table is analyzed again. For a table that starts empty and grows fast, such as
 * the event log, that plan is a sequential scan: the tailer's read kept one made while
 * `user_events` was empty and took 70-130 ms per read at 900,000 rows (benchmark; with autovacuum
 * off nothing analyzes again, with it on only at the next autoanalyze). Parsing and planning cost a
 * fraction of a millisecond, so this is for few, heavier statements, not per-request lookups.
 */
export const plannedEachTime = (query: SQL): SQL => sql`${sql.raw(PLANNED_EACH_TIME)}${query}`;

/**
 * drizzle runs its non-prepared queries through `unsafe(query, params, { prepare: false })`, an
 * unnamed statement that PostgreSQL parses and plans on every call (measured: ~3× the cost of a
 * named one). Our queries are all parameterised, so the set of distinct texts is small and
 * postgres.js's per-connection statement cache can keep them: force `prepare: true`, also on the
 * connections that transactions reserve.
 */
function alwaysPrepared(client: PgClient): PgClient {
  const unsafe = client.unsafe.bind(client);
  client.unsafe = ((query: string, params?: unknown[], options?: Record<string, unknown>) =>
    unsafe(query, params as never, { ...options, prepare: !query.startsWith(PLANNED_EACH_TIME) })) as PgClient["unsafe"];
  // Transactions (`begin`) and nested ones (`savepoint`) hand their callback a reserved connection.
  for (const method of ["begin", "savepoint"] as const) {
    const original = (client as unknown as Record<string, unknown>)[method];
    if (typeof original !== "function") continue;
    const bound = original.bind(client) as (...args: unknown[]) => Promise<unknown>;
    (client as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      const fn = args[args.length - 1] as (tx: PgClient) => unknown;
      return bound(...args.slice(0, -1), (tx: PgClient) => fn(alwaysPrepared(tx)));
    };
  }
  return client;
}

async function openPglite(dir: string): Promise<Database> {
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle } = await import("drizzle-orm/pglite");
  const { migrate } = await import("drizzle-orm/pglite/migrator");
  const inMemory = dir.startsWith("memory://");
  if (!inMemory) mkdirSync(dir, { recursive: true });
  // One process per data directory: PGlite is a single-process database (a second process on the
  // same files runs a copy of its own, and one of them loses its writes).
  const lock = inMemory ? null : lockDirectory(dir);
  let client: InstanceType<typeof PGlite>;
  try {
    client = await PGlite.create(dir, {
      extensions: await pgliteExtensions(),
      ...(await compiledPgliteModules()),
      // In-memory databases (tests) start from a migrated template instead of running initdb and
      // every migration again: most of a PGlite start-up is initdb.
      ...(inMemory ? { loadDataDir: await migratedTemplate() } : {}),
    });
  } catch (err) {
    lock?.release();
    throw err;
  }
  const db = drizzle(client, { schema, casing: "snake_case" }) as unknown as Db;
  return {
    db,
    kind: "pglite",
    ping: (timeoutMs = 2000) => withTimeout(client.query("select 1").then(() => true), timeoutMs),
    connect: async () => {
      await client.query("select 1");
    },
    migrationsApplied: migrationsAppliedCheck(db),
    migrate: () => migrate(db as never, { migrationsFolder: MIGRATIONS_FOLDER }),
    close: async () => {
      try {
        await client.close();
      } finally {
        lock?.release();
      }
    },
  };
}

/** The extensions the migrations create: pg_trgm, and btree_gin (the chat key of the message trigram index). */
async function pgliteExtensions() {
  const { pg_trgm } = await import("@electric-sql/pglite/contrib/pg_trgm");
  const { btree_gin } = await import("@electric-sql/pglite/contrib/btree_gin");
  return { pg_trgm, btree_gin };
}

let modules: Promise<{ pgliteWasmModule: WebAssembly.Module; initdbWasmModule: WebAssembly.Module }> | undefined;

/** PGlite's WebAssembly, compiled once per process and shared by every PGlite it opens. */
function compiledPgliteModules() {
  modules ??= (async () => {
    const dist = dirname(Bun.resolveSync("@electric-sql/pglite", import.meta.dir));
    const compile = async (name: string) => WebAssembly.compile(await Bun.file(join(dist, name)).arrayBuffer());
    const [pgliteWasmModule, initdbWasmModule] = await Promise.all([compile("pglite.wasm"), compile("initdb.wasm")]);
    return { pgliteWasmModule, initdbWasmModule };
  })();
  return modules;
}

let template: Promise<Blob> | undefined;

/** A freshly initialised and migrated data directory, dumped once per process. */
function migratedTemplate(): Promise<Blob> {
  template ??= (async () => {
    const { PGlite } = await import("@electric-sql/pglite");
    const { drizzle } = await import("drizzle-orm/pglite");
    const { migrate } = await import("drizzle-orm/pglite/migrator");
    const client = await PGlite.create("memory://", { extensions: await pgliteExtensions(), ...(await compiledPgliteModules()) });
    await migrate(drizzle(client, { schema, casing: "snake_case" }) as never, { migrationsFolder: MIGRATIONS_FOLDER });
    const dump = await client.dumpDataDir("none");
    await client.close();
    return dump;
  })();
  return template;
}

/** `when` of the newest migration in this build's journal (drizzle records it as `created_at`). */
let newestMigration: number | undefined;

function newestMigrationOfBuild(): number {
  if (newestMigration === undefined) {
    const journal = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, "meta/_journal.json"), "utf8")) as { entries: { when: number }[] };
    newestMigration = Math.max(0, ...journal.entries.map((e) => e.when));
  }
  return newestMigration;
}

/**
 * drizzle's migrator applies every journal entry newer than the newest `created_at` in
 * drizzle.__drizzle_migrations, so all are applied when that one is not older than the journal's
 * newest. A missing table (nothing applied yet) or an unreachable database answers false.
 */
function migrationsAppliedCheck(db: Db): () => Promise<boolean> {
  let applied = false;
  return async () => {
    if (applied) return true;
    try {
      const [row] = await queryRows<{ last: string | number | null }>(db, sql`select max(created_at) as last from drizzle.__drizzle_migrations`);
      applied = row?.last != null && Number(row.last) >= newestMigrationOfBuild();
    } catch {
      return false;
    }
    return applied;
  };
}

export const pgliteDirFor = (dataDir: string) => join(dataDir, "pglite");

async function withTimeout(p: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((res) => {
    timer = setTimeout(() => res(false), ms);
  });
  try {
    return await Promise.race([p.catch(() => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Rows of a raw query, whichever driver ran it (postgres.js answers an array, PGlite `{rows}`). */
export async function queryRows<T>(db: DbOrTx, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown;
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}

/**
 * A table's row from a raw query's `returning *` (snake_case names, driver values), mapped the way
 * drizzle maps its own results: the same types on both drivers (postgres.js answers bigints and
 * timestamps as strings, PGlite as numbers and Dates).
 */
export function rowFromDriver<T extends Table>(table: T, raw: Record<string, unknown>): T["$inferSelect"] {
  const row: Record<string, unknown> = {};
  for (const { key, name, column } of driverColumnsOf(table)) {
    const value = raw[name];
    row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return row as T["$inferSelect"];
}

type DriverColumn = { key: string; name: string; column: ReturnType<typeof getTableColumns>[string] };
const driverColumns = new WeakMap<Table, DriverColumn[]>();

function driverColumnsOf(table: Table): DriverColumn[] {
  let list = driverColumns.get(table);
  if (!list) {
    list = Object.entries(getTableColumns(table)).map(([key, column]) => ({ key, name: toSnakeCase(key), column }));
    driverColumns.set(table, list);
  }
  return list;
}
