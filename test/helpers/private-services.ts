/**
 * Private PostgreSQL and Redis servers for fault tests: started on free ports in temporary
 * directories, so killing or stopping them never disturbs the machine's shared services or other
 * tests. PostgreSQL runs as the `postgres` system user (initdb refuses root).
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

function pgBin(name: string): string | null {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const version = readdirSync(root).sort().at(-1);
  return version ? join(root, version, "bin", name) : null;
}

export const privatePostgresAvailable = (): boolean => {
  const initdb = pgBin("initdb");
  return Boolean(initdb && existsSync(initdb) && Bun.which("runuser"));
};

async function run(cmd: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const code = await proc.exited;
  const out = (await new Response(proc.stdout).text()) + (await new Response(proc.stderr).text());
  return { code, out };
}

const asPostgres = (args: string[]) => ["runuser", "-u", "postgres", "--", ...args];

export interface PrivatePostgres {
  url: string;
  port: number;
  /** `pg_ctl stop -m immediate`: like a crash, no clean shutdown. */
  stopImmediately(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const initdb = pgBin("initdb");
  const pgctl = pgBin("pg_ctl");
  if (!initdb || !pgctl) throw new Error("PostgreSQL binaries not found");
  const dir = mkdtempSync(join(tmpdir(), "parley-pg-"));
  chmodSync(dir, 0o777);
  const data = join(dir, "data");
  const port = await freePort();
  const init = await run(asPostgres([initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]));
  if (init.code !== 0) throw new Error(`initdb failed: ${init.out}`);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const start = async () => {
    const r = await run(asPostgres([pgctl, "-D", data, "-o", opts, "-l", join(dir, "log"), "-w", "-t", "30", "start"]));
    if (r.code !== 0) throw new Error(`pg_ctl start failed: ${r.out}`);
  };
  await start();
  await run(asPostgres([pgBin("createdb") ?? "createdb", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "parley"]));
  return {
    url: `postgres://postgres@127.0.0.1:${port}/parley`,
    port,
    start,
    stopImmediately: async () => {
      await run(asPostgres([pgctl, "-D", data, "-m", "immediate", "-w", "stop"]));
    },
    destroy: async () => {
      await run(asPostgres([pgctl, "-D", data, "-m", "immediate", "-w", "stop"]));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface PrivateRedis {
  url: string;
  port: number;
  /** SIGKILL: what was in memory is gone, subscribers lose their connection. */
  kill(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let proc: ReturnType<typeof Bun.spawn> | undefined;
  const start = async () => {
    proc = Bun.spawn(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdout: "ignore",
      stderr: "ignore",
    });
    for (let i = 0; i < 100; i++) {
      const r = await run(["redis-cli", "-p", String(port), "ping"]);
      if (r.out.includes("PONG")) return;
      await Bun.sleep(50);
    }
    throw new Error("private redis did not start");
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    kill: async () => {
      proc?.kill(9);
      await proc?.exited;
    },
    destroy: async () => {
      proc?.kill(9);
      await proc?.exited;
    },
  };
}
