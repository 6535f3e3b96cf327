/**
 * One server instance's long-lived parts: config, database, broker, mailer, storage, logger.
 * Built once by `createApp` and handed to every request's context; services take the pieces
 * they need (usually `app.db`) as arguments.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openBroker, type Broker } from "./broker/broker";
import { openDatabase, pgliteDirFor, type Database, type Db } from "./db/client";
import type { Config } from "./env";
import { createLogger, type Logger } from "./lib/logger";
import { createMailer, type Mailer } from "./mail/mailer";
import { createStorage, type Storage } from "./media/storage";
import { LocalWakeUps } from "./realtime/local-wake-up";

export interface App {
  config: Config;
  database: Database;
  db: Db;
  broker: Broker;
  mailer: Mailer;
  storage: Storage;
  log: Logger;
  jwtSecret: string;
  /** Random id of this process, for presence leases and logs. */
  instanceId: string;
  /** Channel on which writers announce new event-log positions (a wake-up, not the data). */
  readonly eventsChannel: string;
  /** The same wake-ups for this instance's own tailer, without the broker's round trip. */
  readonly localWakeUps: LocalWakeUps;
  /** Runs `fn` before the app closes (gateway, timers). */
  onClose(fn: () => Promise<void> | void): void;
  close(): Promise<void>;
}

export interface CreateAppOptions {
  /** PGlite directory override (tests use `memory://`). */
  pgliteDir?: string;
  /** Broker key prefix (tests sharing one Redis use a unique one). */
  brokerPrefix?: string;
  logSink?: (line: string) => void;
  /** Skip applying migrations on start (production runs `bun run db:migrate`). */
  migrate?: boolean;
}

export async function createApp(config: Config, opts: CreateAppOptions = {}): Promise<App> {
  const log = createLogger(config.LOG_LEVEL, opts.logSink);
  const database = await openDatabase({
    databaseUrl: config.DATABASE_URL,
    maxConnections: config.DATABASE_POOL_SIZE,
    pgliteDir: opts.pgliteDir ?? pgliteDirFor(config.DATA_DIR),
  });
  if (opts.migrate ?? config.NODE_ENV !== "production") await database.migrate();
  const broker = await openBroker({ redisUrl: config.REDIS_URL, prefix: opts.brokerPrefix ?? config.REDIS_PREFIX });
  const closers: (() => Promise<void> | void)[] = [];
  const app: App = {
    config,
    database,
    db: database.db,
    broker,
    mailer: createMailer(config, log),
    storage: createStorage(config),
    log,
    jwtSecret: config.JWT_SECRET ?? devJwtSecret(config.DATA_DIR),
    instanceId: randomBytes(6).toString("hex"),
    eventsChannel: "events",
    localWakeUps: new LocalWakeUps(),
    onClose: (fn) => closers.push(fn),
    close: async () => {
      for (const fn of closers.reverse()) await fn();
      await broker.close();
      await database.close();
    },
  };
  return app;
}

/** Development only: a secret generated once and kept in DATA_DIR so tokens survive restarts. */
function devJwtSecret(dataDir: string): string {
  const file = join(dataDir, "jwt-secret");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString("base64url");
  writeFileSync(file, secret, { mode: 0o600 });
  return secret;
}
