/**
 * Local PostgreSQL and Redis (started when not running), the benchmark database, and the
 * processes under test (Parley instances and peers), each a child process on 127.0.0.1.
 */
import type { Subprocess } from "bun";
import { mkdirSync, readdirSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import postgres from "postgres";

export const ROOT = resolve(import.meta.dir, "../..");
export const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
/** Overridable so that two people (or helpers) can benchmark side by side without dropping each other's data. */
export const BENCH_DB = /^[a-z_][a-z0-9_]*$/.test(process.env.BENCH_DB ?? "") ? (process.env.BENCH_DB as string) : "parley_bench";
export const BENCH_JWT_SECRET = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz";
export const REDIS_PREFIX = BENCH_DB === "parley_bench" ? "parley-bench:" : `${BENCH_DB}:`;

export function benchDbUrl(): string {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${BENCH_DB}`;
  return u.toString();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pgUp(): Promise<boolean> {
  const sql = postgres(PG_ADMIN_URL, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

async function redisUp(): Promise<boolean> {
  const u = new URL(REDIS_URL);
  try {
    const sock = await Bun.connect({ hostname: u.hostname, port: Number(u.port || 6379), socket: { data() {} } });
    sock.end();
    return true;
  } catch {
    return false;
  }
}

/** Starts the local PostgreSQL cluster and Redis when they do not answer. */
export async function ensureServices(log: (s: string) => void): Promise<void> {
  if (!(await pgUp())) {
    const versions = readdirSync("/etc/postgresql");
    const version = versions[versions.length - 1];
    if (!version) throw new Error("PostgreSQL is not running and no cluster is configured in /etc/postgresql");
    log(`starting PostgreSQL ${version}`);
    Bun.spawnSync(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"]);
    for (let i = 0; i < 30 && !(await pgUp()); i++) await sleep(500);
    if (!(await pgUp())) throw new Error("PostgreSQL did not start");
  }
  if (!(await redisUp())) {
    const u = new URL(REDIS_URL);
    log("starting Redis");
    Bun.spawnSync(["redis-server", "--daemonize", "yes", "--bind", u.hostname, "--port", u.port || "6379", "--save", "", "--appendonly", "no"]);
    for (let i = 0; i < 30 && !(await redisUp()); i++) await sleep(200);
    if (!(await redisUp())) throw new Error("Redis did not start");
  }
}

export async function recreateBenchDatabase(): Promise<void> {
  const sql = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`drop database if exists ${BENCH_DB} with (force)`);
    await sql.unsafe(`create database ${BENCH_DB}`);
  } finally {
    await sql.end();
  }
}

/** Deletes the benchmark's Redis keys (its own prefix only). */
export async function clearRedisPrefix(): Promise<void> {
  const { default: Redis } = await import("ioredis");
  const r = new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 2 });
  try {
    let cursor = "0";
    do {
      const [next, keys] = await r.scan(cursor, "MATCH", `${REDIS_PREFIX}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== "0");
  } finally {
    r.disconnect();
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

export interface Child {
  pid: number;
  url: string;
  port: number;
  proc: Subprocess;
  stop(): Promise<void>;
}

async function waitHttp(url: string, proc: Subprocess, timeoutMs: number, stderr: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`process exited (${proc.exitCode}) before answering ${url}: ${stderr().slice(-2000)}`);
    try {
      const r = await fetch(url);
      if (r.status < 500) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/** Where the children's stdout goes (Parley logs there), one file per child, kept after the run. */
export const CHILD_LOG_DIR = resolve(ROOT, ".data/bench-logs");

/**
 * Spawns `cmd` with `env`, waits until `readyPath` answers, and answers the child. Its stdout is
 * kept in CHILD_LOG_DIR so that an error a scenario counts (a 500) can be traced to its cause.
 */
export async function spawnChild(cmd: string[], env: Record<string, string>, port: number, readyPath: string): Promise<Child> {
  let errText = "";
  mkdirSync(CHILD_LOG_DIR, { recursive: true });
  const logName = `${BENCH_DB}-${basename(cmd.find((a) => /\.(ts|js|mjs)$/.test(a)) ?? cmd[0] ?? "child").replace(/\W+/g, "_")}-${port}.log`;
  const proc = Bun.spawn(cmd, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...env },
    stdout: Bun.file(join(CHILD_LOG_DIR, logName)),
    stderr: "pipe",
  });
  void (async () => {
    const reader = proc.stderr.getReader();
    const dec = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      errText = (errText + dec.decode(value)).slice(-20000);
    }
  })();
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitHttp(url + readyPath, proc, 60_000, () => errText);
  } catch (err) {
    proc.kill("SIGKILL");
    throw err;
  }
  return {
    pid: proc.pid,
    url,
    port,
    proc,
    stop: async () => {
      if (proc.exitCode !== null) return;
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await proc.exited;
      clearTimeout(t);
    },
  };
}

export function parleyEnv(port: number): Record<string, string> {
  return {
    NODE_ENV: "development",
    PORT: String(port),
    HOST: "127.0.0.1",
    DATA_DIR: resolve(ROOT, ".data/bench"),
    DATABASE_URL: benchDbUrl(),
    REDIS_URL,
    REDIS_PREFIX,
    JWT_SECRET: BENCH_JWT_SECRET,
    ACCESS_TOKEN_TTL_SECONDS: "86400",
    LOG_LEVEL: "warn",
    REQUIRE_EMAIL_VERIFICATION: "false",
    LOGIN_RATE_LIMIT_PER_MINUTE: "0",
    REGISTER_RATE_LIMIT_PER_MINUTE: "0",
    REFRESH_RATE_LIMIT_PER_MINUTE: "0",
    RESET_RATE_LIMIT_PER_MINUTE: "0",
    MESSAGE_RATE_LIMIT_PER_MINUTE: "0",
    FAILED_LOGIN_LIMIT_PER_HOUR: "0",
    DUPLICATE_MESSAGE_COOLDOWN_SECONDS: "0",
    // Passed through so pool sizes can be compared (`DATABASE_POOL_SIZE=20 bun run bench ...`).
    ...(process.env.DATABASE_POOL_SIZE ? { DATABASE_POOL_SIZE: process.env.DATABASE_POOL_SIZE } : {}),
  };
}

/** One Parley instance (`bun src/main.ts`) on a fresh port. */
export function startParley(extraEnv: Record<string, string> = {}): Promise<Child> {
  const port = freePort();
  return spawnChild(["bun", "src/main.ts"], { ...parleyEnv(port), ...extraEnv }, port, "/health");
}
