/**
 * Scenario 2: sending. POST /api/v1/messages at concurrency 8/32/128 against the floor: the SQL the
 * server runs for a send, issued the same way through our driver (postgres.js, same pool size as
 * the server) in a tight loop, and through pgbench. Then an open loop at 50 % and 80 % of the best
 * closed-loop rate, latency from the intended send time, and the driver floor on the same schedule
 * (how much of the tail is the SQL and the machine, and how much is ours).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PgDialect } from "drizzle-orm/pg-core";
import postgres from "postgres";
import { DEFAULT_MAX_CONNECTIONS } from "../../src/db/client";
import { EVENT_LOG_LOCK_KEY, eventLogWriteStatement } from "../../src/realtime/event-log";
import { messageWriteStatement, NOTIFIED_MEMBERS_CAP } from "../../src/routers/messages/write-statement";
import { closedLoop, measureInterleaved, openLoop, openLoopCalls, type LoadResult } from "../lib/load";
import { benchDbUrl } from "../lib/services";
import { latency } from "../lib/stats";
import { bearer, endpointExists, ratioFigure, type BenchContext } from "./context";

/** The server's pool size (src/db/client.ts; bench/lib/services.ts passes DATABASE_POOL_SIZE on), so the floor has as many connections. */
const SERVER_POOL = Number(process.env.DATABASE_POOL_SIZE ?? DEFAULT_MAX_CONNECTIONS);

const FLOOR_TEXT = "floor message";

/**
 * The statements the server runs for one send in this scenario (a group of 3–10 members, no
 * mentions, no client_message_id): the membership read, then one transaction with the message
 * write (the message, the chat's activity and a notification per other unmuted member) and the
 * event-log write (lock, positions, both logs), whose COMMIT the server sends right behind it
 * without waiting for its answer. The two writes are compiled from the server's own statement
 * builders, so the floor follows them; the membership read is drizzle's query builder inside
 * `requireMember`, captured as PostgreSQL logged it (log_min_duration_statement = 0) at 7a84abc (plus
 * `chats.message_count`, added since): re-capture it when that query changes.
 */
const MEMBER_READ =
  'select "chats"."id", "chats"."public_id", "chats"."type", "chats"."title", "chats"."handle", "chats"."description", "chats"."avatar_url", "chats"."is_public", "chats"."is_saved", "chats"."unique_key", "chats"."pinned_message_id", "chats"."invite_token", "chats"."last_message_id", "chats"."message_count", "chats"."last_activity_at", "chats"."members_count", "chats"."created_at", "chats"."updated_at", "chat_members"."id", "chat_members"."chat_id", "chat_members"."user_id", "chat_members"."role", "chat_members"."joined_at", "chat_members"."last_read_message_id", "chat_members"."last_delivered_message_id", "chat_members"."cleared_before_message_id", "chat_members"."archived", "chat_members"."pinned_at", "chat_members"."muted", "chat_members"."hidden", "chat_members"."joined_seq" from "chat_members" inner join "chats" on "chats"."id" = "chat_members"."chat_id" where ("chat_members"."chat_id" = $1 and "chat_members"."user_id" = $2) limit $3';

const dialect = new PgDialect();
const messageWrite = (p: SendPair) =>
  dialect.sqlToQuery(
    messageWriteStatement({
      chatId: p.chatId,
      senderId: p.userId,
      type: "text",
      text: FLOOR_TEXT,
      clientMessageId: null,
      replyToMessageId: null,
      forwardedFromMessageId: null,
      attachmentWaveform: null,
      mentions: [],
      notifyMembers: true,
      unhide: false,
    }),
  );
const MESSAGE_WRITE = messageWrite({ chatId: 0, userId: 0 }).sql;
const EVENTS_WRITE = dialect.sqlToQuery(eventLogWriteStatement("[]")).sql;

const memberParams = (p: SendPair) => [p.chatId, p.userId, 1];
/** The message write's parameters, in the compiled statement's order (checked against it once below). */
const messageParams = (p: SendPair) => [p.chatId, p.userId, p.userId, "text", FLOOR_TEXT, null, null, null, null, p.chatId, p.userId, NOTIFIED_MEMBERS_CAP];
{
  const sample = { chatId: 3, userId: 4 };
  if (JSON.stringify(messageWrite(sample).params) !== JSON.stringify(messageParams(sample)))
    throw new Error("bench send: messageParams no longer matches messageWriteStatement's parameters");
}

/** The events parameter the server builds from the message write's answer: notifications, then message_created. */
function eventsOf(row: Record<string, unknown>): unknown[] {
  const { notifications, ...message } = row as { notifications: Record<string, unknown>[]; chat_id: number };
  return [
    ...notifications.map((n) => ({ chat_id: null, user_id: n.user_id, type: "notification", data: { notification: n } })),
    { chat_id: message.chat_id, user_id: null, type: "message_created", data: { message: { ...message, delivery_status: "sent" } } },
  ];
}

/**
 * One send's events as the server passed them for a chat of 6 members (captured); pgbench cannot
 * build them from the message write's answer, so it always writes these 6 (the scenario's chats
 * have 2–9 other members).
 */
const CAPTURED_EVENTS = `[{"chat_id":null,"user_id":2299,"type":"notification","data":{"notification":{"id":37377,"user_id":2299,"event_type":"message_created","payload":"{\\"chat_id\\":1003,\\"message_id\\":1011591,\\"sender_id\\":2300}","created_at":"2026-11-24T05:57:20.106Z"}}},{"chat_id":null,"user_id":2301,"type":"notification","data":{"notification":{"id":37378,"user_id":2301,"event_type":"message_created","payload":"{\\"chat_id\\":1003,\\"message_id\\":1011591,\\"sender_id\\":2300}","created_at":"2026-11-24T05:57:20.106Z"}}},{"chat_id":null,"user_id":2302,"type":"notification","data":{"notification":{"id":37379,"user_id":2302,"event_type":"message_created","payload":"{\\"chat_id\\":1003,\\"message_id\\":1011591,\\"sender_id\\":2300}","created_at":"2026-11-24T05:57:20.106Z"}}},{"chat_id":null,"user_id":2303,"type":"notification","data":{"notification":{"id":37380,"user_id":2303,"event_type":"message_created","payload":"{\\"chat_id\\":1003,\\"message_id\\":1011591,\\"sender_id\\":2300}","created_at":"2026-11-24T05:57:20.106Z"}}},{"chat_id":null,"user_id":2304,"type":"notification","data":{"notification":{"id":37381,"user_id":2304,"event_type":"message_created","payload":"{\\"chat_id\\":1003,\\"message_id\\":1011591,\\"sender_id\\":2300}","created_at":"2026-11-24T05:57:20.106Z"}}},{"chat_id":1003,"user_id":null,"type":"message_created","data":{"message":{"id":1011591,"chat_id":1003,"sender_id":2300,"reply_to_message_id":null,"forwarded_from_message_id":null,"type":"text","text":"probe 2","delivery_status":"sent","attachment_waveform":null,"created_at":"2026-11-24T05:57:20.106Z","updated_at":"2026-11-24T05:57:20.106Z"}}}]`;

/** Ids no real pair has, standing for pgbench's `:c` and `:u`. */
const SYMBOLIC_PAIR: SendPair = { chatId: -7001, userId: -7002 };

/** The same statements for pgbench (:c chat, :u sender), parameters written in. */
const PGBENCH_STATEMENTS = [
  withValues(MEMBER_READ, [":c", ":u", "1"]),
  "begin",
  withValues(MESSAGE_WRITE, pgbenchValues(messageParams(SYMBOLIC_PAIR))),
  withValues(EVENTS_WRITE, [String(EVENT_LOG_LOCK_KEY), `'${CAPTURED_EVENTS}'`]),
  "commit",
].map((s) => s.replace(/\s+/g, " "));

/**
 * pgbench's text for each parameter: the pair's chat and sender as its variables, the rest as
 * literals. Derived from `messageParams` (written out by hand, it fell behind when the statement
 * gained a parameter, and pgbench failed on a syntax error).
 */
function pgbenchValues(params: unknown[]): string[] {
  return params.map((v) =>
    v === SYMBOLIC_PAIR.chatId ? ":c" : v === SYMBOLIC_PAIR.userId ? ":u" : v === null ? "null" : typeof v === "string" ? `'${v.replace(/'/g, "''")}'` : String(v),
  );
}

function withValues(text: string, values: string[]): string {
  return text.replace(/\$(\d+)/g, (_, n: string) => values[Number(n) - 1] ?? "null");
}

interface SendPair {
  chatId: number;
  userId: number;
}

const PREPARED = { prepare: true } as const;

/** One send's statements through postgres.js, the way the server issues them. */
async function floorSend(sql: postgres.Sql, p: SendPair): Promise<void> {
  // Prepared like the server's statements (src/db/client.ts): postgres.js does not prepare
  // `unsafe` text unless asked, and parsing and planning every time would make the floor slower.
  await sql.unsafe(MEMBER_READ, memberParams(p), PREPARED);
  let events: Promise<unknown> | undefined;
  await sql.begin(async (tx) => {
    const [row] = await tx.unsafe(MESSAGE_WRITE, messageParams(p) as never[], PREPARED);
    if (!row) throw new Error("floor: nothing inserted");
    const pending = eventsOf(row);
    // Not awaited before the COMMIT, like the server (src/db/transact.ts).
    events = tx.unsafe(EVENTS_WRITE, [EVENT_LOG_LOCK_KEY, JSON.stringify(pending)], PREPARED);
    events.catch(() => {});
  });
  await events;
}

async function driverLoop(sql: postgres.Sql, pairs: SendPair[], concurrency: number, ms: number): Promise<LoadResult> {
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
        await floorSend(sql, p);
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

/**
 * pgbench with the same statements; answers transactions per second (null when unavailable). Simple
 * protocol: in prepared mode pgbench reads the `:` inside the captured events JSON as variables.
 */
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
      ...PGBENCH_STATEMENTS.map((s) => `${s};`),
    ];
    writeFileSync(script, lines.join("\n") + "\n");
    const u = new URL(benchDbUrl());
    const r = Bun.spawnSync(
      ["pgbench", "-n", "-h", u.hostname, "-p", u.port || "5432", "-U", decodeURIComponent(u.username || "postgres"), "-c", String(Math.min(concurrency, SERVER_POOL)), "-j", "2", "-T", String(seconds), "-f", script, u.pathname.slice(1)],
      { timeout: (seconds + 30) * 1000 },
    );
    const out = r.stdout.toString();
    const m = /tps = ([\d.]+)/.exec(out);
    if (!m) console.warn(`pgbench gave no rate: ${r.stderr.toString().trim().split("\n").slice(-3).join(" | ")}`);
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
      ctx.log(`  send: concurrency ${c}, the API and the driver floor, rounds interleaved`);
      const [api, floor] = await measureInterleaved(timing, [
        { cpu: { server: [parley.pid], database: ctx.database }, run: (ms) => closedLoop({ concurrency: c, durationMs: ms, make: bodyFor, okStatus: 201 }) },
        { cpu: { server: [process.pid], database: ctx.database }, run: (ms) => driverLoop(floorSql, pairs, c, ms) },
      ]);
      if (!api || !floor) throw new Error("send: a contender answered no result");
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

    for (const share of [0.5, 0.8]) {
      const rate = Math.max(10, Math.floor(best * share));
      ctx.log(`  send: open loop at ${Math.round(share * 100)} % (${rate}/s), the API and the driver floor on the same schedule, rounds alternating`);
      const api = { lats: [] as number[], errors: 0, firstError: undefined as string | undefined };
      const floor = { lats: [] as number[], errors: 0, firstError: undefined as string | undefined };
      const apiRun = (ms: number) => openLoop({ rate, durationMs: ms, make: bodyFor, okStatus: 201 });
      const floorRun = (ms: number) => openLoopCalls({ rate, durationMs: ms, call: (i) => floorSend(floorSql, pairs[i % pairs.length] ?? first) });
      await apiRun(timing.warmupMs);
      await floorRun(timing.warmupMs);
      for (let r = 0; r < timing.rounds; r++) {
        // Alternate which goes first, as measureInterleaved does, so neither always meets the other's leftovers.
        const both = [[apiRun, api], [floorRun, floor]] as const;
        for (const [run, into] of r % 2 === 0 ? both : [...both].reverse()) {
          const res = await run(timing.roundMs);
          into.lats.push(...res.latenciesMs);
          into.errors += res.errors;
          into.firstError ??= res.firstError;
        }
      }
      const l = latency(api.lats);
      const fl = latency(floor.lats);
      const fig = {
        scenario: "2 send",
        name: `open loop at ${Math.round(share * 100)} % of max (${rate}/s): p99`,
        unit: "ms",
        value: l.p99,
        floor: { name: `same SQL via postgres.js, same schedule (p50 ${fl.p50.toFixed(1)}, p99.9 ${fl.p999.toFixed(1)} ms, errors ${floor.errors})`, value: fl.p99 },
        note: `p50 ${l.p50.toFixed(1)}, p99.9 ${l.p999.toFixed(1)} ms, n=${l.n}, errors ${api.errors}${api.firstError ? `: ${api.firstError}` : ""}`,
      };
      ctx.figures.push(share === 0.5 ? { ...fig, target: "≤ 15 ms, no errors", holds: l.p99 <= 15 && api.errors === 0 } : fig);
    }
  } finally {
    await floorSql.end({ timeout: 5 });
  }
}
