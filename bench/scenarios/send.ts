/**
 * Scenario 2: sending. POST /api/v1/messages at concurrency 8/32/128 against the floor: the same
 * write set of a send as one SQL transaction through our driver (postgres.js, same pool size as the
 * server) in a tight loop, and through pgbench. Then an open loop at 50 % and 80 % of the best
 * closed-loop rate, latency from the intended send time.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { EVENT_LOG_LOCK_KEY } from "../../src/realtime/event-log";
import { closedLoop, measureRounds, openLoop, type LoadResult, type RoundsResult } from "../lib/load";
import { benchDbUrl } from "../lib/services";
import { latency } from "../lib/stats";
import { bearer, endpointExists, ratioFigure, type BenchContext } from "./context";

const SERVER_POOL = 20;

/** The write set of one send, as plain SQL (pgbench variables :c chat, :u sender). */
const FLOOR_STATEMENTS = [
  "select cm.role from chat_members cm join chats c on c.id = cm.chat_id where cm.chat_id = :c and cm.user_id = :u",
  "insert into messages (chat_id, sender_id, type, text) values (:c, :u, 'text', 'floor message') returning id, created_at",
  "update chats set last_message_id = currval(pg_get_serial_sequence('messages', 'id')), last_activity_at = now(), updated_at = now() where id = :c",
  `select pg_advisory_xact_lock(${EVENT_LOG_LOCK_KEY})`,
  `insert into chat_events (chat_id, seq, type, data) values (:c, nextval('event_seq'), 'message_created', '{"message":{"text":"floor message"}}')`,
];

/** The same statements with $1 (chat) and $2 (sender) for postgres.js. */
const DRIVER_STATEMENTS = FLOOR_STATEMENTS.map((s) => ({
  text: s.replaceAll(":c", "$1").replaceAll(":u", "$2"),
  params: s.includes(":u") ? 2 : s.includes(":c") ? 1 : 0,
}));

async function driverLoop(sql: postgres.Sql, pairs: { chatId: number; userId: number }[], concurrency: number, ms: number): Promise<LoadResult> {
  const lat: number[] = [];
  let ok = 0;
  let errors = 0;
  let firstError: string | undefined;
  let i = 0;
  const start = performance.now();
  const deadline = start + ms;
  async function worker() {
    while (performance.now() < deadline && i < 5_000_000) {
      const p = pairs[i++ % pairs.length];
      if (!p) break;
      const t0 = performance.now();
      try {
        await sql.begin(async (tx) => {
          for (const st of DRIVER_STATEMENTS) await tx.unsafe(st.text, st.params === 2 ? [p.chatId, p.userId] : st.params === 1 ? [p.chatId] : []);
        });
        ok++;
        lat.push(performance.now() - t0);
      } catch (err) {
        errors++;
        firstError ??= String(err);
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ok, errors, seconds: (performance.now() - start) / 1000, latenciesMs: lat, firstError };
}

/** pgbench with the same statements; answers transactions per second (null when unavailable). */
function pgbench(pairs: { chatId: number; userId: number }[], concurrency: number, seconds: number): { tps: number; p99?: number } | null {
  const dir = mkdtempSync(join(tmpdir(), "parley-pgbench-"));
  try {
    const script = join(dir, "send.sql");
    // pgbench picks one of the send pairs by index from two parallel arrays.
    const chats = pairs.map((p) => p.chatId);
    const users = pairs.map((p) => p.userId);
    const pick = (arr: number[]) => arr.reduceRight((acc, v, idx) => (idx === arr.length - 1 ? String(v) : `case when :i = ${idx} then ${v} else ${acc} end`), "");
    const lines = [
      `\\set i random(0, ${Math.min(pairs.length, 32) - 1})`,
      `\\set c ${pick(chats.slice(0, 32))}`,
      `\\set u ${pick(users.slice(0, 32))}`,
      "begin;",
      ...FLOOR_STATEMENTS.map((s) => `${s};`),
      "commit;",
    ];
    writeFileSync(script, lines.join("\n") + "\n");
    const u = new URL(benchDbUrl());
    const r = Bun.spawnSync(
      ["pgbench", "-n", "-h", u.hostname, "-p", u.port || "5432", "-U", decodeURIComponent(u.username || "postgres"), "-c", String(Math.min(concurrency, SERVER_POOL)), "-j", "2", "-T", String(seconds), "-f", script, u.pathname.slice(1)],
      { timeout: (seconds + 30) * 1000 },
    );
    const out = r.stdout.toString();
    const m = /tps = ([\d.]+)/.exec(out);
    return m ? { tps: Number(m[1]) } : null;
  } catch {
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runSend(ctx: BenchContext): Promise<void> {
  const { seeded, timing, parley } = ctx;
  const pairs = seeded.sendPairs;
  const first = pairs[0];
  if (!first) throw new Error("no send pairs in the dataset");
  const bodyFor = (i: number) => {
    const p = pairs[i % pairs.length] ?? first;
    return { url: `${parley.url}/api/v1/messages`, init: { method: "POST", headers: { ...bearer(seeded.token(p.userId)), "content-type": "application/json" }, body: JSON.stringify({ chat_id: p.chatId, type: "text", text: `bench message ${i}` }) } };
  };
  const probe = bodyFor(0);
  const probeRes = await fetch(probe.url, probe.init);
  const probeBody = await probeRes.text();
  if (probeRes.status === 404 && !(await endpointExists(`${parley.url}/api/v1/messages/search?query=x`, { headers: bearer(seeded.token(1)) }))) {
    ctx.skipped.push({ scenario: "2 send", reason: "endpoint missing (POST /api/v1/messages answers 404)" });
    return;
  }
  if (probeRes.status !== 201) throw new Error(`POST /api/v1/messages answered ${probeRes.status}: ${probeBody.slice(0, 300)}`);

  const levels = ctx.quick ? [8, 32] : [8, 32, 128];
  let best = 0;
  const floorSql = postgres(benchDbUrl(), { max: SERVER_POOL, onnotice: () => {} });
  try {
    for (const c of levels) {
      ctx.log(`  send: concurrency ${c}`);
      const api = await measureRounds({
        ...timing,
        cpu: { server: [parley.pid], database: ctx.database },
        run: (ms) => closedLoop({ concurrency: c, durationMs: ms, make: bodyFor, okStatus: 201 }),
      });
      ctx.log(`  send: driver floor, concurrency ${c}`);
      const floor: RoundsResult = await measureRounds({
        ...timing,
        cpu: { server: [process.pid], database: ctx.database },
        run: (ms) => driverLoop(floorSql, pairs, c, ms),
      });
      best = Math.max(best, api.rate.median);
      const f = ratioFigure(
        {
          scenario: "2 send",
          name: `POST /api/v1/messages, c=${c}`,
          unit: "msg/s",
          value: api.rate.median,
          min: api.rate.min,
          max: api.rate.max,
          perServerCpu: api.perServerCpu.median,
          cpu: api.cpu,
          floor: { name: `same SQL via postgres.js, c=${c}`, value: floor.rate.median },
          target: "≥ 0.6× driver floor, no errors",
          note: `p99 ${api.latency.p99.toFixed(1)} ms; PG ${api.cpu.postgres.toFixed(2)} CPU-s/round${api.errors ? `; ${api.errors} errors: ${api.firstError ?? ""}` : ""}`,
        },
        0.6,
      );
      ctx.figures.push(api.errors ? { ...f, holds: false } : f);
      const pg = pgbench(pairs, c, Math.max(2, Math.round(timing.roundMs / 1000)));
      if (pg) ctx.figures.push({ scenario: "2 send", name: `pgbench, same SQL, c=${Math.min(c, SERVER_POOL)}`, unit: "tx/s", value: pg.tps, note: "reference (no HTTP, no driver)" });
    }
  } finally {
    await floorSql.end({ timeout: 5 });
  }

  for (const share of [0.5, 0.8]) {
    const rate = Math.max(10, Math.floor(best * share));
    ctx.log(`  send: open loop at ${Math.round(share * 100)} % (${rate}/s)`);
    const lats: number[] = [];
    let errors = 0;
    let firstError: string | undefined;
    await openLoop({ rate, durationMs: timing.warmupMs, make: bodyFor, okStatus: 201 });
    for (let r = 0; r < timing.rounds; r++) {
      const res = await openLoop({ rate, durationMs: timing.roundMs, make: bodyFor, okStatus: 201 });
      lats.push(...res.latenciesMs);
      errors += res.errors;
      firstError ??= res.firstError;
    }
    const l = latency(lats);
    const fig = {
      scenario: "2 send",
      name: `open loop at ${Math.round(share * 100)} % of max (${rate}/s): p99`,
      unit: "ms",
      value: l.p99,
      note: `p50 ${l.p50.toFixed(1)}, p99.9 ${l.p999.toFixed(1)} ms, n=${l.n}, errors ${errors}${firstError ? `: ${firstError}` : ""}`,
    };
    ctx.figures.push(share === 0.5 ? { ...fig, target: "≤ 15 ms, no errors", holds: l.p99 <= 15 && errors === 0 } : fig);
  }
}
