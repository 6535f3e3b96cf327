/**
 * Soak: `bun run soak [--clients 1000] [--minutes 30] [--rate 20] [--drop-percent 5]`.
 *
 * Two server processes on a fresh PostgreSQL database and a Redis prefix (test/helpers/instances.ts),
 * `clients` users in group chats of 5 (half the sockets on each instance), `rate` messages/s
 * through REST alternating between the instances, and each minute `drop-percent` of the clients
 * dropped abruptly and resumed with since= on the other instance after a second offline. Reports
 * lost / duplicated / out-of-order deliveries, delivery latency (send to frame), and the server
 * processes' RSS and open file descriptors at start and end. Exits 1 when anything was lost,
 * duplicated or out of order. Needs DATABASE_URL and REDIS_URL (defaults: the loopback services).
 */
import { readdirSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";

process.env.DATABASE_URL ||= "postgres://postgres@127.0.0.1:5432/postgres";
process.env.REDIS_URL ||= "redis://127.0.0.1:6379";
process.env.NODE_ENV ||= "test";

const { startCluster } = await import("../test/helpers/instances");
const { awaitDeliveries, connectAll, createGroups, Ledger, LoadClient, quantile, runSender, seedUsers, summarize } = await import(
  "../test/load/harness"
);

const { values: args } = parseArgs({
  options: {
    clients: { type: "string", default: "1000" },
    minutes: { type: "string", default: "30" },
    rate: { type: "string", default: "20" },
    "drop-percent": { type: "string", default: "5" },
  },
});
const CHAT_SIZE = 5;
const clientsWanted = Math.max(CHAT_SIZE, Math.floor(Number(args.clients) / CHAT_SIZE) * CHAT_SIZE);
const minutes = Math.max(1, Number(args.minutes));
const rate = Math.max(1, Number(args.rate));
const dropPercent = Math.min(100, Math.max(0, Number(args["drop-percent"])));

interface ProcStats {
  rssKb: number;
  fds: number;
}

function procStats(pid: number): ProcStats {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rss = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
    return { rssKb: Number(rss ?? 0), fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return { rssKb: 0, fds: 0 };
  }
}

const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`;
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

log(`soak: ${clientsWanted} clients, ${minutes} min, ${rate} msg/s, ${dropPercent}% dropped and resumed each minute, 2 instances`);
const cluster = await startCluster(2);
const pids = cluster.instances.map((i) => i.pid);
const urls = cluster.instances.map((i) => i.url);
const atBoot = pids.map(procStats);
let exitCode = 0;
try {
  const users = await seedUsers(cluster.databaseUrl, clientsWanted);
  const chats = await createGroups(urls, users, CHAT_SIZE);
  const latencies: number[] = [];
  let minuteLatencies: number[] = [];
  const onLatency = (ms: number) => {
    latencies.push(ms);
    minuteLatencies.push(ms);
  };
  let flip = 0;
  const clients = chats.flatMap((chat) =>
    chat.members.map((u) => new LoadClient(u, chat.id, { onLatency, autoResume: true, resumeUrl: () => urls[flip++ % urls.length] ?? "" })),
  );
  const home = new Map(clients.map((c, i) => [c, i % urls.length]));
  const connectStarted = performance.now();
  await connectAll(clients, (c) => urls[home.get(c) ?? 0] ?? "", 100);
  log(`connected ${clients.length} clients in ${((performance.now() - connectStarted) / 1000).toFixed(1)} s (${chats.length} chats)`);
  const baseline = pids.map(procStats);
  for (const [i, s] of baseline.entries()) log(`instance ${i} (pid ${pids[i]}): RSS ${mb(s.rssKb)} (boot ${mb(atBoot[i]?.rssKb ?? 0)}), ${s.fds} fds`);

  const ledger = new Ledger();
  let stopSending = () => {};
  const stop = new Promise<void>((resolve) => (stopSending = resolve));
  const sender = runSender({ urls, chats, rate, maxMessages: Math.ceil(rate * minutes * 60) + rate * 10, stop, ledger });
  const started = performance.now();
  let dropped = 0;
  let worstResumeMs = 0;
  const resumeFailures: string[] = [];
  for (let minute = 1; minute <= minutes; minute++) {
    const due = started + minute * 60_000;
    // Paces the run: the drops happen half way through each minute.
    await Bun.sleep(Math.max(0, due - 30_000 - performance.now()));
    const count = Math.round((clients.length * dropPercent) / 100);
    const victims = [...clients].sort(() => Math.random() - 0.5).slice(0, count);
    for (const c of victims) c.drop();
    await Bun.sleep(1000); // offline for a second
    const t0 = performance.now();
    const results = await Promise.allSettled(
      victims.map((c) => {
        const next = ((home.get(c) ?? 0) + 1) % urls.length;
        home.set(c, next);
        return c.connect(urls[next] ?? "");
      }),
    );
    const resumeMs = performance.now() - t0;
    worstResumeMs = Math.max(worstResumeMs, resumeMs);
    dropped += count;
    for (const r of results) if (r.status === "rejected") resumeFailures.push(String(r.reason));
    await Bun.sleep(Math.max(0, due - performance.now()));
    const s = summarize(clients, ledger);
    const stats = pids.map(procStats);
    log(
      `minute ${minute}: ${ledger.ackedCount} acked (${ledger.failed} failed), ${s.deliveries} deliveries, ` +
        `${s.duplicated} duplicated, ${s.outOfOrder} out of order, ${s.seqViolations} seq violations, ` +
        `dropped ${count} resumed in ${resumeMs.toFixed(0)} ms, p99 ${quantile(minuteLatencies, 0.99).toFixed(0)} ms, ` +
        stats.map((st, i) => `i${i} RSS ${mb(st.rssKb)} fds ${st.fds}`).join(", "),
    );
    minuteLatencies = [];
  }
  stopSending();
  const sent = await sender;
  const wait = await awaitDeliveries(clients, ledger, 60_000);
  const s = summarize(clients, ledger);
  const end = pids.map(procStats);
  await Promise.all(clients.map((c) => c.close()));

  const bad = s.lost + s.duplicated + s.outOfOrder + s.seqViolations + s.foreign + resumeFailures.length;
  console.log("");
  console.log(`## Soak result (${new Date().toISOString().slice(0, 10)})`);
  console.log("");
  console.log(`- clients: ${clients.length} on 2 instances, ${chats.length} group chats of ${CHAT_SIZE}; ${minutes} min at ${rate} msg/s`);
  console.log(`- messages: ${sent.sent} sent, ${ledger.ackedCount} acknowledged, ${ledger.failed} failed ${JSON.stringify(Object.fromEntries(ledger.failures))}`);
  console.log(`- deliveries: ${s.deliveries} (expected ${ledger.ackedCount * CHAT_SIZE}), ${s.replayed} durable frames replayed after since=`);
  console.log(`- lost ${s.lost}, duplicated ${s.duplicated}, out of order ${s.outOfOrder}, seq violations ${s.seqViolations}, foreign ${s.foreign}, resync_required ${s.resyncs}`);
  console.log(`- drops: ${dropped} planned (${dropPercent}%/min), worst resume of a minute's batch ${worstResumeMs.toFixed(0)} ms, ${resumeFailures.length} failed; unplanned closes ${s.unexpectedCloses}`);
  console.log(
    `- delivery latency (send to frame): p50 ${quantile(latencies, 0.5).toFixed(0)} ms, p99 ${quantile(latencies, 0.99).toFixed(0)} ms, max ${quantile(latencies, 1).toFixed(0)} ms; last frame ${wait.waitedMs.toFixed(0)} ms after the last ack`,
  );
  for (const [i, pid] of pids.entries()) {
    const b = baseline[i] ?? { rssKb: 0, fds: 0 };
    const e = end[i] ?? { rssKb: 0, fds: 0 };
    console.log(
      `- instance ${i} (pid ${pid}): RSS boot ${mb(atBoot[i]?.rssKb ?? 0)}, start ${mb(b.rssKb)}, end ${mb(e.rssKb)} (drift ${e.rssKb >= b.rssKb ? "+" : ""}${mb(e.rssKb - b.rssKb)}); ` +
        `open fds start ${b.fds}, end ${e.fds}`,
    );
  }
  if (resumeFailures.length) console.log(`- first resume failure: ${resumeFailures[0]}`);
  exitCode = bad > 0 ? 1 : 0;
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  await cluster.stop();
}
process.exit(exitCode);
