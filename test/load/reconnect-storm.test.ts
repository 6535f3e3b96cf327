/**
 * Reconnect storm: 1,000 clients on two instances (500 each), all dropped at once (sockets
 * terminated, no close handshake), then all reconnecting with since= at once, each to the other
 * instance, while messages keep flowing. All must be live again within 30 s, and every client's
 * stream over both connections must have no gap, no duplicate and increasing seq.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startCluster, type Cluster } from "../helpers/instances";
import { usingPostgres, usingRedis } from "../helpers/server";
import { awaitDeliveries, connectAll, createGroups, Ledger, LoadClient, runSender, seedUsers, summarize } from "./harness";

const CLIENTS = 1000;
const CHAT_SIZE = 5;
const RATE = 20;

let cluster: Cluster | undefined;

beforeAll(async () => {
  if (!usingPostgres || !usingRedis) return;
  cluster = await startCluster(2);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

test.skipIf(!usingPostgres || !usingRedis)(
  "reconnect storm: 1,000 clients dropped at once all resume within 30 s with no gap and no duplicate",
  async () => {
    if (!cluster) throw new Error("no cluster");
    const urls = cluster.instances.map((i) => i.url);
    const users = await seedUsers(cluster.databaseUrl, CLIENTS);
    const chats = await createGroups(urls, users, CHAT_SIZE);
    const clients = chats.flatMap((chat) => chat.members.map((u) => new LoadClient(u, chat.id)));
    const home = (i: number) => urls[i % urls.length] ?? "";
    const other = (i: number) => urls[(i + 1) % urls.length] ?? "";
    const connectStarted = performance.now();
    await connectAll(clients, (_c, i) => home(i), 100);
    const connectMs = performance.now() - connectStarted;
    expect(clients.every((c) => c.connected)).toBe(true);

    const ledger = new Ledger();
    let stopSending = () => {};
    const stop = new Promise<void>((resolve) => (stopSending = resolve));
    const sender = runSender({ urls, chats, rate: RATE, maxMessages: RATE * 120, stop, ledger });

    await Bun.sleep(3000); // paces the scenario: ~60 messages before the drop

    for (const c of clients) c.drop();
    // Messages made while every socket is down: each resume has to replay them.
    await ledger.waitForAcks(ledger.ackedCount + 10, 10_000);
    const stormStarted = performance.now();
    const results = await Promise.allSettled(clients.map((c, i) => c.connect(other(i), 30_000)));
    const resumeMs = performance.now() - stormStarted;
    const failed = results.filter((r) => r.status === "rejected");
    if (failed.length) console.log(`reconnect storm: ${failed.length} failed, first: ${String((failed[0] as PromiseRejectedResult).reason)}`);

    await Bun.sleep(3000); // paces the scenario: messages keep flowing after everyone is back
    stopSending();
    const sent = await sender;
    const wait = await awaitDeliveries(clients, ledger, 30_000);
    const s = summarize(clients, ledger);
    await Promise.all(clients.map((c) => c.close()));

    console.log(
      `reconnect storm: ${clients.length} clients (connected in ${(connectMs / 1000).toFixed(1)} s), all dropped at once, ` +
        `${clients.length - failed.length} resumed with since= within ${(resumeMs / 1000).toFixed(1)} s; ` +
        `${ledger.ackedCount} messages, ${s.deliveries} deliveries (${s.replayed} durable frames replayed), ${s.lost} lost, ${s.duplicated} duplicated, ${s.outOfOrder} out of order ` +
        `(sent ${sent.sent}, ${ledger.failed} not acknowledged, seq violations ${s.seqViolations}, resync ${s.resyncs}, waited ${wait.waitedMs.toFixed(0)} ms)`,
    );
    expect(failed.length).toBe(0);
    expect(resumeMs).toBeLessThan(30_000);
    expect(ledger.failed).toBe(0);
    expect(s.lost).toBe(0);
    expect(s.duplicated).toBe(0);
    expect(s.outOfOrder).toBe(0);
    expect(s.seqViolations).toBe(0);
    expect(s.resyncs).toBe(0);
    expect(s.replayed).toBeGreaterThan(0);
    expect(s.foreign).toBe(0);
    expect(s.deliveries).toBe(ledger.ackedCount * CHAT_SIZE);
  },
  300_000,
);
