/**
 * `bun run bench [--quick] [--only=http,send,read,fanout,cluster,connections]`
 *
 * Starts (or reuses) local PostgreSQL and Redis, recreates the `parley_bench` database, seeds it,
 * starts Parley (`bun src/main.ts`) and the peers as separate processes on 127.0.0.1, runs the
 * scenarios (warm-up + 3 measured rounds each) and writes bench/results/<date>-<sha>.json and .md
 * (named as `resultsBaseName` says: `-quick`, `-only-<scenarios>`, and a counter rather than overwrite).
 * Every loop is bounded in count and time; a watchdog ends the run at the time budget.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { markdownTable, writeResults, type Results } from "./lib/report";
import {
  BENCH_DB,
  PG_ADMIN_URL,
  REDIS_URL,
  ROOT,
  clearRedisPrefix,
  ensureServices,
  freePort,
  recreateBenchDatabase,
  spawnChild,
  startParley,
  type Child,
} from "./lib/services";
import type { BenchContext, Timing } from "./scenarios/context";
import { runConnections } from "./scenarios/connections";
import { runCluster, runFanout } from "./scenarios/fanout";
import { runHttp } from "./scenarios/http";
import { runRead } from "./scenarios/read";
import { runSend } from "./scenarios/send";
import { FULL, QUICK, seed } from "./seed";

const SCENARIOS = {
  http: runHttp,
  send: runSend,
  read: runRead,
  fanout: runFanout,
  cluster: runCluster,
  connections: runConnections,
} as const;
type ScenarioName = keyof typeof SCENARIOS;
const isScenario = (s: string): s is ScenarioName => s in SCENARIOS;

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const onlyArg = args.find((a) => a.startsWith("--only="))?.slice("--only=".length);
const only: ScenarioName[] = onlyArg ? onlyArg.split(",").filter(isScenario) : (Object.keys(SCENARIOS) as ScenarioName[]);
const budgetSeconds = Number(args.find((a) => a.startsWith("--budget="))?.slice("--budget=".length) ?? (quick ? 170 : 900));
const timing: Timing = quick ? { warmupMs: 300, roundMs: 1200, rounds: 3 } : { warmupMs: 2000, roundMs: 5000, rounds: 3 };

const started = performance.now();
const log = (m: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${m}`);
const children: Child[] = [];

function git(...a: string[]): string {
  const r = Bun.spawnSync(["git", ...a], { cwd: ROOT });
  return r.stdout.toString().trim();
}

async function machine(): Promise<Record<string, string | number>> {
  const sql = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} });
  const [v] = await sql<{ server_version: string }[]>`show server_version`;
  await sql.end();
  const redisInfo = Bun.spawnSync(["redis-cli", "-u", REDIS_URL, "info", "server"]).stdout.toString();
  return {
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model.trim() ?? "unknown",
    bun: Bun.version,
    postgres: `PostgreSQL ${v?.server_version ?? "?"}`,
    redis: /redis_version:(\S+)/.exec(redisInfo)?.[1] ?? "?",
    kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
    nofile_limit: Number(Bun.spawnSync(["sh", "-c", "ulimit -n"]).stdout.toString().trim()) || 0,
  };
}

async function stopAll(): Promise<void> {
  await Promise.all(children.splice(0).map((c) => c.stop().catch(() => {})));
}

const results: Results = {
  date: new Date().toISOString(),
  sha: git("rev-parse", "HEAD") || "unknown",
  quick,
  ...(only.length < Object.keys(SCENARIOS).length ? { only } : {}),
  machine: {},
  dataset: {},
  figures: [],
  skipped: [],
  seconds: 0,
};

function finish(reason?: string): void {
  results.seconds = (performance.now() - started) / 1000;
  if (reason) results.skipped.push({ scenario: "run", reason });
  if (git("status", "--porcelain", "--", "src").length > 0) results.machine.worktree = "src/ had uncommitted changes";
  const out = writeResults(join(ROOT, "bench/results"), results);
  console.log("\n" + markdownTable(results));
  log(`wrote ${out.json} and ${out.md}`);
  if (!quick && only.length === Object.keys(SCENARIOS).length) updateDocs();
}

/** Replaces the table between the markers of docs/performance.md (full runs only). */
function updateDocs(): void {
  const file = join(ROOT, "docs/performance.md");
  if (!existsSync(file)) return;
  const text = readFileSync(file, "utf8");
  const start = "<!-- bench:table:start -->";
  const end = "<!-- bench:table:end -->";
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return;
  writeFileSync(file, text.slice(0, a + start.length) + "\n" + markdownTable(results) + text.slice(b));
  log("updated docs/performance.md");
}

const watchdog = setTimeout(
  () => {
    log(`time budget of ${budgetSeconds} s (+60 s) exceeded: stopping`);
    finish(`stopped by the watchdog after ${budgetSeconds + 60} s`);
    void stopAll().then(() => process.exit(2));
  },
  (budgetSeconds + 60) * 1000,
);

try {
  log(`parley bench${quick ? " --quick" : ""}: ${only.join(", ")}`);
  await ensureServices(log);
  results.machine = await machine();
  await recreateBenchDatabase();
  await clearRedisPrefix();
  log("seeding");
  const seeded = await seed(quick ? QUICK : FULL, log);
  results.dataset = {
    users: seeded.size.users,
    chats: seeded.size.chats,
    messages: seeded.size.messages,
    "chat events": seeded.size.events,
    "members in the biggest chat": seeded.size.bigChat,
    "chats of user 1": seeded.size.user1Chats,
    "seed seconds": Math.round(seeded.seconds),
  };
  log(`seeded in ${seeded.seconds.toFixed(1)} s`);
  const parley = await startParley();
  children.push(parley);
  const helloPort = freePort();
  const hello = await spawnChild(["bun", "bench/peers/hello.ts", String(helloPort)], {}, helloPort, "/");
  children.push(hello);
  const ctx: BenchContext = { quick, timing, parley, hello, seeded, database: BENCH_DB, figures: results.figures, skipped: results.skipped, log };
  for (const name of only) {
    if ((performance.now() - started) / 1000 > budgetSeconds) {
      results.skipped.push({ scenario: name, reason: "time budget used up" });
      continue;
    }
    log(`scenario ${name}`);
    try {
      await SCENARIOS[name](ctx);
    } catch (err) {
      log(`scenario ${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      results.skipped.push({ scenario: name, reason: `failed: ${err instanceof Error ? err.message : String(err)}` });
    }
  }
  finish();
} catch (err) {
  log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  finish(`failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  clearTimeout(watchdog);
  await stopAll();
}
