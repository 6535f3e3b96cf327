/**
 * Scenario 6: idle authenticated sockets. Client processes (10,000 sockets each at most) connect to
 * Parley A and B (the 20,000 open-files limit of this machine keeps one server process under
 * 20,000 sockets), and the same number of plain sockets to the raw Bun server. Memory per
 * connection is the RSS growth of the server processes divided by the sockets; connects/s counts
 * the authenticated upgrades (token check + session lookup) at 200 in flight per client.
 */
import type { Subprocess } from "bun";
import { rssKiB } from "../lib/proc";
import { ROOT, startParley, type Child } from "../lib/services";
import type { BenchContext } from "./context";

interface HoldResult {
  connected: number;
  failed: number;
  seconds: number;
  firstError?: string;
}

async function hold(url: string, from: number, to: number, auth: boolean): Promise<{ proc: Subprocess<"pipe", "pipe", "inherit">; result: Promise<HoldResult> }> {
  const proc = Bun.spawn(["bun", "bench/lib/ws-hold.ts", JSON.stringify({ url, from, to, parallel: 200, auth })], { cwd: ROOT, stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const result = (async () => {
    const reader = proc.stdout.getReader();
    let text = "";
    const dec = new TextDecoder();
    const deadline = Date.now() + 120_000;
    while (!text.includes("\n") && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value);
    }
    reader.releaseLock();
    return JSON.parse(text.split("\n")[0] || '{"connected":0,"failed":-1,"seconds":0,"firstError":"no answer"}') as HoldResult;
  })();
  return { proc, result };
}

async function release(procs: Subprocess<"pipe", "pipe", "inherit">[]): Promise<void> {
  for (const p of procs) {
    p.stdin.end();
  }
  await Promise.race([Promise.all(procs.map((p) => p.exited)), Bun.sleep(10_000)]);
  for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
}

const wsUrl = (httpUrl: string) => httpUrl.replace(/^http/, "ws");

export async function runConnections(ctx: BenchContext): Promise<void> {
  const probe = await fetch(`${ctx.parley.url}/ws?token=${ctx.seeded.token(1)}`);
  await probe.arrayBuffer();
  if (probe.status === 404) {
    ctx.skipped.push({ scenario: "6 connections", reason: "endpoint missing (/ws answers 404)" });
    return;
  }
  const total = ctx.quick ? 2_000 : Math.min(20_000, ctx.seeded.size.users);
  const half = Math.floor(total / 2);

  // Raw Bun sockets: one server process, `half` sockets (same per-process count as Parley's).
  ctx.log(`  connections: ${half} raw Bun sockets`);
  const rawBefore = rssKiB(ctx.hello.pid);
  const raw = await hold(`${wsUrl(ctx.hello.url)}/ws?topic=idle`, 0, half, false);
  const rawRes = await raw.result;
  await Bun.sleep(1500);
  const rawPer = ((rssKiB(ctx.hello.pid) - rawBefore) / Math.max(1, rawRes.connected));
  await release([raw.proc]);

  const b: Child = await startParley();
  try {
    await Bun.sleep(500);
    ctx.log(`  connections: ${total} authenticated sockets on A and B`);
    const before = rssKiB(ctx.parley.pid) + rssKiB(b.pid);
    const t0 = performance.now();
    const ha = await hold(`${wsUrl(ctx.parley.url)}/ws`, 1, 1 + half, true);
    const hb = await hold(`${wsUrl(b.url)}/ws`, 1 + half, 1 + total, true);
    const [ra, rb] = await Promise.all([ha.result, hb.result]);
    const wall = (performance.now() - t0) / 1000;
    await Bun.sleep(2000);
    const connected = ra.connected + rb.connected;
    const per = (rssKiB(ctx.parley.pid) + rssKiB(b.pid) - before) / Math.max(1, connected);
    await release([ha.proc, hb.proc]);
    const failed = ra.failed + rb.failed;
    const connectRate = connected / Math.max(ra.seconds, rb.seconds, 0.001);
    ctx.figures.push({
      scenario: "6 connections",
      name: `idle authenticated sockets held (A + B)`,
      unit: "sockets",
      value: connected,
      target: `${total.toLocaleString("en-US")} held`,
      holds: connected === total,
      note: failed ? `${failed} failed: ${ra.firstError ?? rb.firstError ?? ""}` : `in ${wall.toFixed(1)} s`,
    });
    ctx.figures.push({
      scenario: "6 connections",
      name: "memory per idle authenticated connection",
      unit: "KiB",
      value: per,
      floor: { name: "raw Bun socket", value: rawPer },
      ratio: rawPer > 0 ? per / rawPer : undefined,
      target: "≤ 4 KiB",
      holds: per <= 4,
      note: "server RSS growth / sockets",
    });
    ctx.figures.push({
      scenario: "6 connections",
      name: "authenticated connects/s (2 clients × 200 in flight)",
      unit: "connects/s",
      value: connectRate,
      floor: { name: "raw Bun connects/s (1 client)", value: rawRes.connected / Math.max(rawRes.seconds, 0.001) },
      target: "≥ 2,000/s",
      holds: connectRate >= 2000 && failed === 0,
    });
  } finally {
    await b.stop();
  }
}
