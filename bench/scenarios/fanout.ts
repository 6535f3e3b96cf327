/**
 * Scenario 4: one sender into chats of 10, 1,000 and 10,000 online members (real WebSocket clients
 * in the benchmark process), against raw `server.publish` of the same bytes to the same number of
 * sockets (bench/peers/hello.ts) and a Socket.IO 4 server under Node (websocket transport).
 * Scenario 5: the same with receivers on a second instance (B) and the sender on A.
 *
 * Each message is sent once the previous one is fully delivered (or 5 s passed), so "fully
 * delivered" is the time from the send to the last member's frame; deliveries/s is members
 * reached per second of that time. The first 50 sockets are probes and time every frame.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Figure } from "../lib/report";
import { freePort, spawnChild, startParley, ROOT, type Child } from "../lib/services";
import { closeAll, openMany, openSocketIo, openWs, type OnFrame, type Receiver } from "../lib/sockets";
import { latency, spread, type Latency } from "../lib/stats";
import { bearer, ratioFigure, type BenchContext } from "./context";

const PROBES = 50;
/**
 * Up to this many receivers in all, the contenders' rounds are interleaved with every receiver
 * connected at once; the 10,000-member chat's three sets would pass this machine's limit of
 * 20,000 open files per process, so they run one after the other.
 */
const INTERLEAVE_MAX_SOCKETS = 12_000;
const DELIVERY_TIMEOUT_MS = 5000;

interface FanoutResult {
  deliveriesPerSecond: number;
  min: number;
  max: number;
  full: Latency;
  probe: Latency;
  /** Probe latency per probe group (`FanoutOptions.probeGroup`), same messages. */
  probeByGroup: Latency[];
  lost: number;
  sample?: string;
}

interface FanoutOptions {
  /** Unmeasured rounds before the measured ones (default 1). */
  warmupRounds?: number;
  /** Which group receiver `i`'s probe timings go to (default: all in group 0). */
  probeGroup?: (i: number) => number;
}

type Send = (k: number, mark: string) => Promise<void>;

let runCounter = 0;

/** One contender's receivers, connected, and the rounds it has run so far. */
interface FanoutRun {
  /** Sends `perRound` messages, each once the previous one is fully delivered (or timed out). */
  round(measured: boolean): Promise<void>;
  result(): FanoutResult;
  close(): void;
}

/** Connects `n` receivers with `open`; every frame carrying this run's mark is counted. */
async function openFanout(
  n: number,
  perRound: number,
  maxRounds: number,
  open: (i: number, onFrame: OnFrame) => Promise<Receiver>,
  send: Send,
  log: (m: string) => void,
  probeGroup: (i: number) => number = () => 0,
): Promise<FanoutRun | { error: string }> {
  const runId = `${Date.now().toString(36)}${runCounter++}`;
  const mark = `fanmark-${runId}-`;
  const total = perRound * maxRounds;
  const sentAt = new Float64Array(total);
  const lastAt = new Float64Array(total);
  const count = new Int32Array(total);
  const probeGroups: number[][] = [];
  const waiters = new Map<number, () => void>();
  let sample: string | undefined;
  let measuring = false;
  const onFrameFor =
    (i: number): OnFrame =>
    (text) => {
      const j = text.indexOf(mark);
      if (j < 0) return;
      const k = parseInt(text.slice(j + mark.length, j + mark.length + 8), 10);
      if (!(k >= 0 && k < total)) return;
      const now = performance.now();
      sample ??= text;
      count[k] = (count[k] ?? 0) + 1;
      lastAt[k] = now;
      if (i < PROBES && measuring) (probeGroups[probeGroup(i)] ??= []).push(now - (sentAt[k] ?? now));
      if (count[k] === n) waiters.get(k)?.();
    };
  const opened = await openMany(n, 200, (i) => open(i, onFrameFor(i)));
  if (opened.failed > 0) {
    closeAll(opened.receivers);
    return { error: `${opened.failed} of ${n} sockets failed to connect: ${opened.firstError ?? ""}` };
  }
  log(`    ${n} sockets connected in ${opened.seconds.toFixed(1)} s`);
  const rates: number[] = [];
  const fulls: number[] = [];
  let lost = 0;
  let roundsRun = 0;
  return {
    async round(measured) {
      if (roundsRun >= maxRounds) throw new Error(`fan-out: more than ${maxRounds} rounds`);
      const r = roundsRun++;
      measuring = measured;
      let reached = 0;
      let time = 0;
      for (let m = 0; m < perRound; m++) {
        const k = r * perRound + m;
        const done = new Promise<void>((resolve) => {
          waiters.set(k, resolve);
          setTimeout(resolve, DELIVERY_TIMEOUT_MS);
        });
        sentAt[k] = performance.now();
        await send(k, `${mark}${k}`);
        await done;
        waiters.delete(k);
        const got = count[k] ?? 0;
        const took = (got > 0 ? (lastAt[k] ?? 0) : performance.now()) - (sentAt[k] ?? 0);
        if (measured) {
          reached += got;
          time += took;
          lost += n - got;
          fulls.push(got === n ? took : DELIVERY_TIMEOUT_MS);
        }
      }
      if (measured) rates.push(time > 0 ? reached / (time / 1000) : 0);
    },
    result() {
      const s = spread(rates);
      return { deliveriesPerSecond: s.median, min: s.min, max: s.max, full: latency(fulls), probe: latency(probeGroups.flatMap((g) => g ?? [])), probeByGroup: Array.from(probeGroups, (g) => latency(g ?? [])), lost, sample };
    },
    close: () => closeAll(opened.receivers),
  };
}

/** One contender alone: connect, `warmupRounds` unmeasured rounds, `rounds` measured ones, close. */
async function fanout(
  n: number,
  perRound: number,
  rounds: number,
  open: (i: number, onFrame: OnFrame) => Promise<Receiver>,
  send: Send,
  log: (m: string) => void,
  opts: FanoutOptions = {},
): Promise<FanoutResult | { error: string }> {
  const warmupRounds = opts.warmupRounds ?? 1;
  const run = await openFanout(n, perRound, rounds + warmupRounds, open, send, log, opts.probeGroup);
  if ("error" in run) return run;
  try {
    for (let r = 0; r < warmupRounds; r++) await run.round(false);
    for (let r = 0; r < rounds; r++) await run.round(true);
    return run.result();
  } finally {
    run.close();
  }
}

interface FanoutContender {
  /** Key of its result: parley, raw, socketio. */
  name: string;
  label: string;
  open: (i: number, onFrame: OnFrame) => Promise<Receiver>;
  send: Send;
}

type FanoutResults = Record<string, FanoutResult | { error: string }>;

/**
 * The contenders on `n` receivers each. `together`: every contender's receivers connected at once,
 * one warm-up round each, then `rounds` rounds in which each contender runs once, the order rotated
 * by one each round, so the ratios compare the same stretch of time (measured one after the other,
 * raw publish alone moved between 121,000 and 163,000 deliveries/s at 1,000 receivers from run to
 * run). Otherwise one contender after the other, for chats whose receivers cannot all be connected
 * at once.
 */
async function runContenders(
  n: number,
  perRound: number,
  rounds: number,
  contenders: readonly FanoutContender[],
  log: (m: string) => void,
  together: boolean,
): Promise<FanoutResults> {
  const out: FanoutResults = {};
  if (!together) {
    for (const c of contenders) {
      log(`  fan-out: ${c.label}, ${n} receivers`);
      out[c.name] = await fanout(n, perRound, rounds, c.open, c.send, log);
    }
    return out;
  }
  const runs: { name: string; run: FanoutRun }[] = [];
  try {
    for (const c of contenders) {
      log(`  fan-out: ${c.label}, ${n} receivers (rounds interleaved)`);
      const run = await openFanout(n, perRound, rounds + 1, c.open, c.send, log);
      if ("error" in run) out[c.name] = run;
      else runs.push({ name: c.name, run });
    }
    for (const { run } of runs) await run.round(false);
    for (let r = 0; r < rounds; r++) for (let j = 0; j < runs.length; j++) await runs[(r + j) % runs.length]?.run.round(true);
    for (const { name, run } of runs) out[name] = run.result();
    return out;
  } finally {
    for (const { run } of runs) run.close();
  }
}

async function startSocketIoPeer(): Promise<Child> {
  const dir = mkdtempSync(join(tmpdir(), "parley-sio-"));
  const out = join(dir, "socketio.mjs");
  const built = Bun.spawnSync(["bun", "build", "bench/peers/socketio.ts", "--target=node", `--outfile=${out}`], { cwd: ROOT });
  if (built.exitCode !== 0) throw new Error(`could not bundle the Socket.IO peer: ${built.stderr.toString().slice(0, 500)}`);
  const port = freePort();
  const child = await spawnChild(["node", out, String(port)], {}, port, "/");
  return { ...child, stop: async () => { await child.stop(); rmSync(dir, { recursive: true, force: true }); } };
}

const wsUrl = (httpUrl: string) => httpUrl.replace(/^http/, "ws");

function parleySender(ctx: BenchContext, chatId: number, senderId: number): Send {
  const headers = { ...bearer(ctx.seeded.token(senderId)), "content-type": "application/json" };
  return async (_k, text) => {
    const res = await fetch(`${ctx.parley.url}/api/v1/messages`, { method: "POST", headers, body: JSON.stringify({ chat_id: chatId, type: "text", text }) });
    await res.arrayBuffer();
    if (res.status !== 201) throw new Error(`send answered ${res.status}`);
  };
}

/** Chats of the dataset: one of ~10 members, one of 1,000 and (full run) one of 10,000, all owned by user 1. */
function fanoutChats(ctx: BenchContext): { chatId: number; members: number[]; perRound: number }[] {
  const ten = Array.from({ length: ctx.seeded.size.user1Chats }, (_, i) => i + 1).find((c) => c > 56 && ctx.seeded.members(c).length === 10) ?? 63;
  const out = [
    { chatId: ten, members: ctx.seeded.members(ten), perRound: ctx.quick ? 20 : 100 },
    { chatId: 2, members: ctx.seeded.members(2), perRound: ctx.quick ? 5 : 30 },
  ];
  if (!ctx.quick) out.push({ chatId: 1, members: ctx.seeded.members(1), perRound: 10 });
  return out;
}

async function wsAvailable(ctx: BenchContext): Promise<boolean> {
  const res = await fetch(`${ctx.parley.url}/ws?token=${ctx.seeded.token(1)}`);
  await res.arrayBuffer();
  return res.status !== 404;
}

export async function runFanout(ctx: BenchContext): Promise<void> {
  const parleyOk = await wsAvailable(ctx);
  if (!parleyOk) ctx.skipped.push({ scenario: "4 fan-out: Parley", reason: "endpoint missing (/ws answers 404)" });
  const sio = await startSocketIoPeer();
  const rounds = ctx.timing.rounds;
  try {
    for (const chat of fanoutChats(ctx)) {
      const receivers = chat.members.filter((u) => u !== 1);
      const n = receivers.length;
      // The floors publish the bytes of Parley's own frame, captured from its first delivery (Parley
      // runs first, warm-up included); this stand-in is only used when Parley is skipped.
      let bytes = `{"type":"message_created","seq":0,"data":{"message":{"id":0,"chat_id":${chat.chatId},"sender_id":1,"reply_to_message_id":null,"forwarded_from_message_id":null,"type":"text","text":"MARK","delivery_status":"sent","attachment_waveform":null,"created_at":"2026-01-01T00:00:00.000Z","updated_at":"2026-01-01T00:00:00.000Z"}}}`;
      let captured = false;
      const capture = (onFrame: OnFrame): OnFrame => (text) => {
        if (!captured && text.includes("fanmark-")) {
          bytes = text.replace(/fanmark-[a-z0-9]+-\d+/, "MARK");
          captured = true;
        }
        onFrame(text);
      };
      const topic = `fan${chat.chatId}`;
      const contenders: FanoutContender[] = [
        ...(parleyOk
          ? [{ name: "parley", label: "Parley", open: (i: number, onFrame: OnFrame) => openWs(`${wsUrl(ctx.parley.url)}/ws?token=${ctx.seeded.token(receivers[i] ?? 1)}`, capture(onFrame), true), send: parleySender(ctx, chat.chatId, 1) }]
          : []),
        {
          name: "raw",
          label: "raw Bun publish",
          open: (_i, onFrame) => openWs(`${wsUrl(ctx.hello.url)}/ws?topic=${topic}`, onFrame, false),
          send: async (_k, text) => {
            const res = await fetch(`${ctx.hello.url}/publish?topic=${topic}`, { method: "POST", body: bytes.replace("MARK", text) });
            await res.arrayBuffer();
          },
        },
        {
          name: "socketio",
          label: "Socket.IO 4",
          open: (_i, onFrame) => openSocketIo(sio.url, topic, onFrame),
          send: async (_k, text) => {
            const res = await fetch(`${sio.url}/publish?room=${topic}`, { method: "POST", body: bytes.replace("MARK", text) });
            await res.arrayBuffer();
          },
        },
      ];
      const results = await runContenders(n, chat.perRound, rounds, contenders, ctx.log, n * contenders.length <= INTERLEAVE_MAX_SOCKETS);
      pushFanoutFigures(ctx, n, results);
    }
  } finally {
    await sio.stop();
  }
}

function pushFanoutFigures(ctx: BenchContext, n: number, results: FanoutResults): void {
  const ok = (r: FanoutResult | { error: string } | undefined): r is FanoutResult => r !== undefined && !("error" in r);
  for (const [name, r] of Object.entries(results)) if (r && "error" in r) ctx.skipped.push({ scenario: `4 fan-out ${name}, ${n} members`, reason: r.error });
  const raw = results.raw;
  const sio = results.socketio;
  const parley = results.parley;
  const base = (label: string, r: FanoutResult): Figure => ({
    scenario: "4 fan-out",
    name: `${label}, ${n.toLocaleString("en-US")} receivers: deliveries/s`,
    unit: "deliveries/s",
    value: r.deliveriesPerSecond,
    min: r.min,
    max: r.max,
    note: `fully delivered p99 ${r.full.p99.toFixed(1)} ms, probe p99 ${r.probe.p99.toFixed(1)} ms${r.lost ? `, ${r.lost} frames lost` : ""}`,
  });
  if (ok(raw)) ctx.figures.push(base("raw Bun server.publish", raw));
  if (ok(sio)) ctx.figures.push(ok(raw) ? ratioFigure({ ...base("Socket.IO 4 (node, websocket)", sio), floor: { name: "raw publish", value: raw.deliveriesPerSecond } }, null) : base("Socket.IO 4", sio));
  if (ok(parley)) {
    if (ok(raw)) ctx.figures.push(ratioFigure({ ...base("Parley", parley), floor: { name: "raw publish", value: raw.deliveriesPerSecond }, target: "≥ 0.7× raw" }, 0.7));
    if (ok(sio)) ctx.figures.push(ratioFigure({ ...base("Parley", parley), floor: { name: "Socket.IO 4", value: sio.deliveriesPerSecond }, target: "≥ 5× Socket.IO" }, 5));
    if (n >= 5000)
      ctx.figures.push({
        scenario: "4 fan-out",
        name: `Parley, ${n.toLocaleString("en-US")} members fully delivered: p99`,
        unit: "ms",
        value: parley.full.p99,
        target: "≤ 50 ms",
        holds: parley.full.p99 <= 50 && parley.lost === 0,
        note: `p50 ${parley.full.p50.toFixed(1)} ms, n=${parley.full.n}`,
      });
  }
}

/**
 * Scenario 5: the sender on A, the chat's receivers split between A and B (alternately, so half
 * the probes are on each); the p99 the hop adds is B's probe p99 minus A's over the same messages.
 * Measuring A and B one after the other compared two different stretches of a shared 2-core
 * machine: the same code gave -4.75 to +4.97 ms.
 */
export async function runCluster(ctx: BenchContext): Promise<void> {
  if (!(await wsAvailable(ctx))) {
    ctx.skipped.push({ scenario: "5 two instances", reason: "endpoint missing (/ws answers 404)" });
    return;
  }
  const b = await startParley();
  try {
    const chatId = 7;
    const receivers = ctx.seeded.members(chatId).filter((u) => u !== 1);
    const perRound = ctx.quick ? 20 : 60;
    // B starts cold while A has run every other scenario: B's delivery path needs some hundred
    // messages to warm up (with one round B's p99 came out 3-5 ms above A's).
    const warmupRounds = ctx.quick ? 1 : 5;
    const onB = (i: number) => i % 2;
    ctx.log(`  two instances: ${receivers.length} receivers, alternately on A and on B`);
    const r = await fanout(
      receivers.length,
      perRound,
      ctx.timing.rounds,
      (i, onFrame) => openWs(`${wsUrl(onB(i) ? b.url : ctx.parley.url)}/ws?token=${ctx.seeded.token(receivers[i] ?? 1)}`, onFrame, true),
      parleySender(ctx, chatId, 1),
      ctx.log,
      { warmupRounds, probeGroup: onB },
    );
    if ("error" in r) {
      ctx.skipped.push({ scenario: "5 two instances", reason: r.error });
      return;
    }
    const [local, remote] = r.probeByGroup;
    if (!local || !remote || local.n === 0 || remote.n === 0) {
      ctx.skipped.push({ scenario: "5 two instances", reason: "no probe timings on one instance" });
      return;
    }
    const added = remote.p99 - local.p99;
    ctx.figures.push({
      scenario: "5 two instances",
      name: `send on A, deliver on B (${receivers.length} members, half on each): added p99`,
      unit: "ms",
      value: added,
      target: "≤ 2 ms",
      holds: added <= 2 && r.lost === 0,
      floor: { name: "p99 of the probes on A", value: local.p99 },
      note: `same messages: p99 on B ${remote.p99.toFixed(2)} ms vs on A ${local.p99.toFixed(2)} ms; p50 ${remote.p50.toFixed(2)} vs ${local.p50.toFixed(2)} ms; n=${remote.n}+${local.n}${r.lost ? `; ${r.lost} lost` : ""}`,
    });
  } finally {
    await b.stop();
  }
}
