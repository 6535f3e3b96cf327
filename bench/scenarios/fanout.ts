import type { BenchContext } from "./context";
export async function runFanout(ctx: BenchContext): Promise<void> {
  ctx.skipped.push({ scenario: "4 fan-out", reason: "not implemented yet" });
}
export async function runCluster(ctx: BenchContext): Promise<void> {
  ctx.skipped.push({ scenario: "5 two instances", reason: "not implemented yet" });
}
