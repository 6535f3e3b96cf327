/**
 * Several real server processes (`bun src/main.ts`) sharing one PostgreSQL database and one Redis
 * key prefix: what N instances behind a load balancer look like. Needs DATABASE_URL and REDIS_URL.
 */
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { BASE_REDIS_URL, baseTestEnv, createTestDatabase } from "./server";

export interface Instance {
  url: string;
  pid: number;
  logs: string[];
  /** Sends `signal` (default SIGTERM) and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface Cluster {
  databaseUrl: string;
  env: Record<string, string>;
  instances: Instance[];
  /** Starts one more instance on the same database and Redis prefix. */
  spawn(extraEnv?: Record<string, string>): Promise<Instance>;
  stop(): Promise<void>;
}

const ROOT = resolve(import.meta.dir, "../..");

async function spawnInstance(env: Record<string, string>): Promise<Instance> {
  const dataDir = mkdtempSync(join(tmpdir(), "parley-inst-"));
  const proc: Subprocess<"ignore", "pipe", "pipe"> = Bun.spawn(["bun", "src/main.ts"], {
    cwd: ROOT,
    env: { ...process.env, ...env, DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const logs: string[] = [];
  const url = await new Promise<string>((resolveUrl, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      if (!settled) reject(new Error(`instance did not start: ${logs.slice(-5).join("\n")}`));
    }, 60_000);
    const read = async (stream: ReadableStream<Uint8Array>) => {
      const decoder = new TextDecoder();
      let buffer = "";
      for await (const chunk of stream) {
        buffer += decoder.decode(chunk, { stream: true });
        let nl = buffer.indexOf("\n");
        while (nl >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          logs.push(line);
          if (!settled && line.includes('"listening"')) {
            try {
              const parsed = JSON.parse(line) as { url?: string };
              if (parsed.url) {
                settled = true;
                clearTimeout(timer);
                resolveUrl(parsed.url);
              }
            } catch {
              // not JSON: keep reading
            }
          }
          nl = buffer.indexOf("\n");
        }
      }
    };
    void read(proc.stdout);
    void read(proc.stderr);
    void proc.exited.then((code) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        reject(new Error(`instance exited with ${code}: ${logs.slice(-5).join("\n")}`));
      }
    });
  });
  return {
    url,
    pid: proc.pid,
    logs,
    kill: async (signal: NodeJS.Signals = "SIGTERM") => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await proc.exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ClusterOptions {
  /** Use this database (e.g. a private server of test/helpers/private-services.ts) instead of a fresh one on DATABASE_URL; it is not dropped on stop. */
  databaseUrl?: string;
  /** Use this Redis instead of REDIS_URL. */
  redisUrl?: string;
}

/** Starts `count` instances on a fresh database (or `opts.databaseUrl`) and a unique Redis prefix. */
export async function startCluster(count: number, extraEnv: Record<string, string> = {}, opts: ClusterOptions = {}): Promise<Cluster> {
  const redisUrl = opts.redisUrl ?? BASE_REDIS_URL;
  if (!redisUrl) throw new Error("REDIS_URL is not set");
  const db = opts.databaseUrl ? { url: opts.databaseUrl, drop: async () => {} } : await createTestDatabase();
  const prefix = `parley-cluster:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}:`;
  const env: Record<string, string> = {
    ...baseTestEnv("unused"),
    LOG_LEVEL: "info",
    DATABASE_URL: db.url,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    ...extraEnv,
  };
  const instances: Instance[] = [];
  const spawn = async (more: Record<string, string> = {}) => {
    const inst = await spawnInstance({ ...env, ...more });
    instances.push(inst);
    return inst;
  };
  // The first one migrates the fresh database; the rest start together.
  await spawn();
  await Promise.all(Array.from({ length: count - 1 }, () => spawn()));
  return {
    databaseUrl: db.url,
    env,
    instances,
    spawn,
    stop: async () => {
      await Promise.all(instances.map((i) => i.kill("SIGTERM")));
      await db.drop();
    },
  };
}
