/**
 * Scenario 1: request overhead. /health, and `auth.me` (authenticated: JWT + session lookup) over
 * tRPC and over the REST bridge, each against a plain Bun.serve hello in the same run. Each of the
 * CONCURRENCY loops calls as its own user, as on a server many people use: one caller's concurrent
 * lookups of the same row would be served by one read (db/batched-lookup.ts). The four run their
 * rounds interleaved (lib/load.ts, measureInterleaved), so each ratio compares the same minutes.
 */
import { closedLoop, measureInterleaved, type Contender, type RoundsResult } from "../lib/load";
import { bearer, ratioFigure, type BenchContext } from "./context";

const CONCURRENCY = 32;

export async function runHttp(ctx: BenchContext): Promise<void> {
  const { timing } = ctx;
  const callers = Array.from({ length: CONCURRENCY }, (_, i) => ({ headers: bearer(ctx.seeded.token(2 + i)) }));
  const contender = (server: number[], url: string, authenticated = false): Contender => ({
    cpu: { server, database: ctx.database },
    run: (ms) => closedLoop({ concurrency: CONCURRENCY, durationMs: ms, make: (_, worker) => ({ url, init: authenticated ? callers[worker] : undefined }) }),
  });
  ctx.log("  http: plain Bun hello, /health, tRPC auth.me and REST GET /api/v1/auth/me, rounds interleaved");
  const [hello, health, trpc, rest] = await measureInterleaved(timing, [
    contender([ctx.hello.pid], `${ctx.hello.url}/`),
    contender([ctx.parley.pid], `${ctx.parley.url}/health`),
    contender([ctx.parley.pid], `${ctx.parley.url}/trpc/auth.me?input=${encodeURIComponent("{}")}`, true),
    contender([ctx.parley.pid], `${ctx.parley.url}/api/v1/auth/me`, true),
  ]);
  if (!hello || !health || !trpc || !rest) throw new Error("http: a contender answered no result");

  const fig = (name: string, r: RoundsResult) => ({
    scenario: "1 http",
    name,
    unit: "req/s",
    value: r.rate.median,
    min: r.rate.min,
    max: r.rate.max,
    perServerCpu: r.perServerCpu.median,
    cpu: r.cpu,
    note: r.errors ? `${r.errors} errors: ${r.firstError ?? ""}` : `c=${CONCURRENCY}, p99 ${r.latency.p99.toFixed(2)} ms`,
  });
  const helloFloor = { name: "plain Bun.serve hello", value: hello.rate.median, perServerCpu: hello.perServerCpu.median };
  ctx.figures.push(fig("plain Bun.serve hello", hello));
  ctx.figures.push(ratioFigure({ ...fig("GET /health", health), floor: helloFloor }, null));
  const trpcFig = ratioFigure({ ...fig("tRPC auth.me (authenticated)", trpc), floor: helloFloor, target: "≥ 0.35× hello" }, 0.35);
  ctx.figures.push(trpc.errors ? { ...trpcFig, holds: false } : trpcFig);
  const restFig = ratioFigure(
    { ...fig("REST GET /api/v1/auth/me", rest), floor: { name: "tRPC auth.me", value: trpc.rate.median, perServerCpu: trpc.perServerCpu.median }, target: "≥ 0.8× tRPC" },
    0.8,
  );
  ctx.figures.push(rest.errors ? { ...restFig, holds: false } : restFig);
}
