/**
 * `bun src/main.ts` as a child process, for what only a whole process shows: start-up errors, the
 * lock on DATA_DIR, shutdown on a signal. Output is collected line by line; waits are driven by the
 * lines the process prints (never by sleeping).
 */
import type { Subprocess } from "bun";
import { join } from "node:path";
import { TEST_JWT_SECRET } from "../helpers/server";

export const MAIN = join(import.meta.dir, "../../src/main.ts");
export const MIGRATE_CLI = join(import.meta.dir, "../../src/db/migrate-cli.ts");

/** A minimal environment: nothing of the test runner's (DATABASE_URL, REDIS_URL) leaks in. */
export function childEnv(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/tmp",
    NODE_ENV: "development",
    DATA_DIR: dataDir,
    JWT_SECRET: TEST_JWT_SECRET,
    HOST: "127.0.0.1",
    PORT: "0",
    LOG_LEVEL: "info",
    REGISTER_RATE_LIMIT_PER_MINUTE: "0",
    ...extra,
  };
}

export interface MainProcess {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  pid: number;
  /** Every line printed so far (stdout and stderr). */
  lines: string[];
  /** Resolves with the first line (past or future) matching `re`; rejects when the process exits first. */
  waitForLine(re: RegExp): Promise<string>;
  /** The listener's URL, from the "listening" log line. */
  listening(): Promise<string>;
  exited: Promise<number>;
  /** SIGKILL if still running (cleanup). */
  kill(): void;
}

export function spawnMain(env: Record<string, string>, script = MAIN): MainProcess {
  const proc = Bun.spawn(["bun", script], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  const push = (line: string) => {
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.re.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of stream) {
      rest += decoder.decode(chunk, { stream: true });
      const parts = rest.split("\n");
      rest = parts.pop() ?? "";
      for (const p of parts) push(p);
    }
    if (rest) push(rest);
  };
  const pumped = Promise.all([pump(proc.stdout), pump(proc.stderr)]);
  const exited = (async () => {
    const code = await proc.exited;
    await pumped;
    return code;
  })();
  const waitForLine = (re: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const seen = lines.find((l) => re.test(l));
      if (seen !== undefined) return resolve(seen);
      waiters.push({ re, resolve });
      void exited.then((code) => reject(new Error(`process exited (${code}) before printing ${re}; output:\n${lines.join("\n")}`)));
    });
  return {
    proc,
    pid: proc.pid,
    lines,
    waitForLine,
    listening: async () => {
      const line = await waitForLine(/"msg":"listening"/);
      return (JSON.parse(line) as { url: string }).url;
    },
    exited,
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    },
  };
}
