/**
 * Real servers for tests: each `startTestServer()` gets its own database (a PGlite in memory, or a
 * uniquely named PostgreSQL database when DATABASE_URL is set, dropped on stop), its own broker
 * (in-process, or Redis under a unique key prefix when REDIS_URL is set), a temporary DATA_DIR,
 * and listens on port 0.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "bun:test";
import postgres from "postgres";
import { createApp, type App } from "../../src/app";
import { loadConfig } from "../../src/env";
import { startServer } from "../../src/server";

export const BASE_DATABASE_URL = process.env.DATABASE_URL || undefined;
export const BASE_REDIS_URL = process.env.REDIS_URL || undefined;
export const usingPostgres = Boolean(BASE_DATABASE_URL);
export const usingRedis = Boolean(BASE_REDIS_URL);

export const TEST_JWT_SECRET = "test-secret-0123456789abcdefghijklmnopqrstuvwxyz";

export interface TestServer {
  url: string;
  app: App;
  dataDir: string;
  /** Environment of this server: start a second instance on the same database with it. */
  env: Record<string, string>;
  logs: string[];
  stop(): Promise<void>;
}

export interface TestServerOptions {
  env?: Record<string, string>;
  /** Share another server's database and broker prefix (a second instance). */
  shareWith?: TestServer;
  /** The listener's address (default 127.0.0.1). */
  hostname?: string;
}

const uid = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;

/** Creates a uniquely named database on the base server; answers its URL and a dropper. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!BASE_DATABASE_URL) throw new Error("DATABASE_URL is not set");
  const name = `parley_test_${uid()}`;
  const admin = postgres(BASE_DATABASE_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(BASE_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const a = postgres(BASE_DATABASE_URL, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
      await a.end();
    },
  };
}

/**
 * A database of the calling test file's own in the PostgreSQL pass: created before its tests,
 * dropped after them. The answer gives its URL (and throws in the PGlite pass, where none exists).
 */
export function ownTestDatabase(): () => string {
  let database: { url: string; drop: () => Promise<void> } | undefined;
  beforeAll(async () => {
    if (usingPostgres) database = await createTestDatabase();
  }, 30_000);
  afterAll(async () => {
    await database?.drop();
  }, 30_000);
  return () => {
    if (!database) throw new Error("no test database (PostgreSQL pass only)");
    return database.url;
  };
}

export function baseTestEnv(dataDir: string): Record<string, string> {
  return {
    NODE_ENV: "test",
    DATA_DIR: dataDir,
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: "info",
    // Rate limits are off unless a test turns one on.
    LOGIN_RATE_LIMIT_PER_MINUTE: "0",
    REGISTER_RATE_LIMIT_PER_MINUTE: "0",
    REFRESH_RATE_LIMIT_PER_MINUTE: "0",
    RESET_RATE_LIMIT_PER_MINUTE: "0",
    MESSAGE_RATE_LIMIT_PER_MINUTE: "0",
    FAILED_LOGIN_LIMIT_PER_HOUR: "0",
    DUPLICATE_MESSAGE_COOLDOWN_SECONDS: "0",
  };
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "parley-test-"));
  let dropDb: (() => Promise<void>) | undefined;
  const env: Record<string, string> = { ...baseTestEnv(dataDir) };
  let brokerPrefix = `parley-test:${uid()}:`;
  if (opts.shareWith) {
    Object.assign(env, opts.shareWith.env, { DATA_DIR: dataDir });
    brokerPrefix = opts.shareWith.env.REDIS_PREFIX ?? brokerPrefix;
  } else {
    if (BASE_DATABASE_URL) {
      const db = await createTestDatabase();
      env.DATABASE_URL = db.url;
      dropDb = db.drop;
    }
    if (BASE_REDIS_URL) env.REDIS_URL = BASE_REDIS_URL;
    env.REDIS_PREFIX = brokerPrefix;
  }
  Object.assign(env, opts.env ?? {});
  const logs: string[] = [];
  const config = loadConfig(env);
  const app = await createApp(config, { pgliteDir: "memory://", brokerPrefix, logSink: (l) => logs.push(l) });
  const running = await startServer(app, { port: 0, hostname: opts.hostname ?? "127.0.0.1" });
  return {
    url: running.url,
    app,
    dataDir,
    env,
    logs,
    stop: async () => {
      await running.stop();
      await app.close();
      if (dropDb) await dropDb();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
