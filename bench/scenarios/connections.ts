import type { BenchContext } from "./context";
export async function runConnections(ctx: BenchContext): Promise<void> {
  ctx.skipped.push({ scenario: "6 connections", reason: "not implemented yet" });
}
