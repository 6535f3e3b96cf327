/**
 * Load generators run in the benchmark process (never in the server's): a closed loop of N
 * concurrent request loops, and an open loop that sends on a schedule and measures latency from the
 * intended send time (no coordinated omission). Both stop by themselves after `durationMs` or
 * `maxRequests`, whichever comes first.
 */
import { cpuSnapshot, cpuUsed, type CpuGroups, type CpuUsed } from "./proc";
import { latency, spread, type Latency, type Spread } from "./stats";

export interface RequestSpec {
  url: string;
  init?: RequestInit;
}

/** `i`: the request's number in the run; `worker`: which of the closed loop's loops sends it (0 in an open loop). */
export type MakeRequest = (i: number, worker: number) => RequestSpec;

export interface LoadResult {
  ok: number;
  errors: number;
  seconds: number;
  latenciesMs: number[];
  firstError?: string;
}

/** `concurrency` loops issuing requests back to back. */
export async function closedLoop(opts: {
  concurrency: number;
  durationMs: number;
  maxRequests?: number;
  make: MakeRequest;
  okStatus?: number;
}): Promise<LoadResult> {
  const max = opts.maxRequests ?? 5_000_000;
  const okStatus = opts.okStatus ?? 200;
  const lat: number[] = [];
  let issued = 0;
  let ok = 0;
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const deadline = start + opts.durationMs;
  async function worker(_: unknown, w: number) {
    while (issued < max && performance.now() < deadline) {
      const i = issued++;
      const spec = opts.make(i, w);
      const t0 = performance.now();
      try {
        const res = await fetch(spec.url, spec.init);
        const body = await res.arrayBuffer();
        if (res.status === okStatus) {
          ok++;
          lat.push(performance.now() - t0);
        } else {
          errors++;
          firstError ??= `${res.status} ${new TextDecoder().decode(body).slice(0, 200)}`;
        }
      } catch (err) {
        errors++;
        firstError ??= String(err);
      }
    }
  }
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  return { ok, errors, seconds: (performance.now() - start) / 1000, latenciesMs: lat, firstError };
}

/** Sends at `rate` per second for `durationMs`; latency counts from each request's intended time. */
export function openLoop(opts: {
  rate: number;
  durationMs: number;
  make: MakeRequest;
  okStatus?: number;
  maxOutstanding?: number;
}): Promise<LoadResult & { dropped: number }> {
  const okStatus = opts.okStatus ?? 200;
  return openLoopCalls({
    ...opts,
    call: async (i) => {
      const spec = opts.make(i, 0);
      const res = await fetch(spec.url, spec.init);
      await res.arrayBuffer();
      if (res.status !== okStatus) throw new Error(`status ${res.status}`);
    },
  });
}

/**
 * The open loop's schedule around any operation (an HTTP request, or the driver floor's
 * statements): operation `i` is due at `start + i / rate`, its latency counts from then, and a
 * rejected call is an error.
 */
export async function openLoopCalls(opts: {
  rate: number;
  durationMs: number;
  call: (i: number) => Promise<void>;
  maxOutstanding?: number;
}): Promise<LoadResult & { dropped: number }> {
  const maxOutstanding = opts.maxOutstanding ?? 4096;
  const total = Math.floor((opts.rate * opts.durationMs) / 1000);
  const lat: number[] = [];
  let ok = 0;
  let errors = 0;
  let dropped = 0;
  let outstanding = 0;
  let firstError: string | undefined;
  const pending: Promise<void>[] = [];
  const start = performance.now();
  const interval = 1000 / opts.rate;
  let next = 0;
  const fire = (i: number, intended: number) => {
    if (outstanding >= maxOutstanding) {
      dropped++;
      return;
    }
    outstanding++;
    pending.push(
      opts
        .call(i)
        .then(() => {
          ok++;
          lat.push(performance.now() - intended);
        })
        .catch((err: unknown) => {
          errors++;
          firstError ??= err instanceof Error ? err.message : String(err);
        })
        .finally(() => {
          outstanding--;
        }),
    );
  };
  while (next < total) {
    const now = performance.now();
    while (next < total && start + next * interval <= now) {
      fire(next, start + next * interval);
      next++;
    }
    const wait = start + next * interval - performance.now();
    await Bun.sleep(Math.max(0, Math.min(wait, 2)));
  }
  await Promise.race([Promise.all(pending), Bun.sleep(10_000)]);
  return { ok, errors: errors + dropped, dropped, seconds: (performance.now() - start) / 1000, latenciesMs: lat, firstError };
}

export interface RoundsResult {
  /** Successful operations per second, over the measured rounds. */
  rate: Spread;
  /** Operations per CPU-second of the server processes. */
  perServerCpu: Spread;
  cpu: CpuUsed;
  latency: Latency;
  errors: number;
  firstError?: string;
}

/** One of the contenders that `measureInterleaved` compares: its CPU groups and one timed run. */
export interface Contender {
  cpu: CpuGroups;
  run: (ms: number) => Promise<LoadResult>;
}

/**
 * Warm-up, then `rounds` measured rounds with CPU seconds read around each, for one contender.
 */
export async function measureRounds(opts: { warmupMs: number; rounds: number; roundMs: number } & Contender): Promise<RoundsResult> {
  const [result] = await measureInterleaved(opts, [opts]);
  if (!result) throw new Error("measureInterleaved answered no result");
  return result;
}

/**
 * Every contender's warm-up, then `rounds` rounds in which each contender runs once, the order
 * rotated by one each round (round r starts with contender r mod k). A ratio of two contenders
 * then compares the same stretch of time: on a shared machine, figures measured one after the
 * other drifted apart by more than some targets' margins (the hello between runs: 37,900 to
 * 78,500 req/s). Answers one result per contender, in the given order.
 */
export async function measureInterleaved(
  timing: { warmupMs: number; rounds: number; roundMs: number },
  contenders: readonly Contender[],
): Promise<RoundsResult[]> {
  if (timing.warmupMs > 0) for (const c of contenders) await c.run(timing.warmupMs);
  const acc = contenders.map(() => new RoundsAccumulator(timing.rounds));
  for (let r = 0; r < timing.rounds; r++) {
    for (let j = 0; j < contenders.length; j++) {
      const at = (r + j) % contenders.length;
      const c = contenders[at];
      const a = acc[at];
      if (!c || !a) continue;
      const before = cpuSnapshot(c.cpu);
      const res = await c.run(timing.roundMs);
      a.add(res, cpuUsed(before, cpuSnapshot(c.cpu)));
    }
  }
  return acc.map((a) => a.result());
}

/** Collects measured rounds into a `RoundsResult`. */
class RoundsAccumulator {
  private readonly rates: number[] = [];
  private readonly perCpu: number[] = [];
  private readonly cpuTotals: CpuUsed = { server: 0, postgres: 0, redis: 0 };
  private readonly lats: number[] = [];
  private errors = 0;
  private firstError: string | undefined;

  constructor(private readonly rounds: number) {}

  add(res: LoadResult, used: CpuUsed): void {
    this.rates.push(res.ok / res.seconds);
    this.perCpu.push(used.server > 0 ? res.ok / used.server : Number.NaN);
    this.cpuTotals.server += used.server / this.rounds;
    this.cpuTotals.postgres += used.postgres / this.rounds;
    this.cpuTotals.redis += used.redis / this.rounds;
    for (const l of res.latenciesMs) this.lats.push(l);
    this.errors += res.errors;
    this.firstError ??= res.firstError;
  }

  result(): RoundsResult {
    return {
      rate: spread(this.rates),
      perServerCpu: spread(this.perCpu),
      cpu: this.cpuTotals,
      latency: latency(this.lats),
      errors: this.errors,
      firstError: this.firstError,
    };
  }
}
