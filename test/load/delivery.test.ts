/**
 * Delivery under load (CI smoke): 200 WebSocket clients on two server processes (half on each),
 * 40 group chats of 5, 20 messages/s through REST alternating between the instances for 2 minutes.
 * Every client must get every acknowledged message of its chat once, in message-id order, with
 * `seq` strictly increasing on its socket. LOAD_DELIVERY_SECONDS shortens the run while developing.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startCluster, type Cluster } from "../helpers/instances";
import { usingPostgres, usingRedis } from "../helpers/server";
import { awaitDeliveries, connectAll, createGroups, Ledger, LoadClient, runSender, seedUsers, summarize } from "./harness";

const CLIENTS = 200;
const CHAT_SIZE = 5;
const RATE = 20;
const SECONDS = Number(process.env.LOAD_DELIVERY_SECONDS ?? 120);

let cluster: Cluster | undefined;

beforeAll(async () => {
  if (!usingPostgres || !usingRedis) return;
  cluster = await startCluster(2);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

test.skipIf(!usingPostgres || !usingRedis)(
  "delivery under load: nothing lost, nothing duplicated, in order, on two instances",
  async () => {
    if (!cluster) throw new Error("no cluster");
    const urls = cluster.instances.map((i) => i.url);
    const users = await seedUsers(cluster.databaseUrl, CLIENTS);
    const chats = await createGroups(urls, users, CHAT_SIZE);
    expect(chats.length).toBe(CLIENTS / CHAT_SIZE);

    const clients = chats.flatMap((chat) => chat.members.map((u) => new LoadClient(u, chat.id)));
    // Members of one chat alternate between the instances: half the clients on each.
    await connectAll(clients, (_c, i) => urls[i % urls.length] ?? "");

    const ledger = new Ledger();
    const sent = await runSender({ urls, chats, rate: RATE, maxMessages: RATE * SECONDS, ledger });
    const wait = await awaitDeliveries(clients, ledger, 30_000);
    const s = summarize(clients, ledger);
    await Promise.all(clients.map((c) => c.close()));

    console.log(
      `delivery under load: ${clients.length} clients, ${ledger.ackedCount} messages, ${s.deliveries} deliveries, ` +
        `${s.lost} lost, ${s.duplicated} duplicated, ${s.outOfOrder} out of order ` +
        `(sent ${sent.sent} in ${(sent.elapsedMs / 1000).toFixed(1)} s, ${ledger.failed} not acknowledged, ` +
        `seq violations ${s.seqViolations}, unexpected closes ${s.unexpectedCloses}, last frame ${wait.waitedMs.toFixed(0)} ms after the last ack)`,
    );
    expect(ledger.failed).toBe(0);
    expect(ledger.ackedCount).toBe(RATE * SECONDS);
    expect(s.lost).toBe(0);
    expect(s.duplicated).toBe(0);
    expect(s.outOfOrder).toBe(0);
    expect(s.seqViolations).toBe(0);
    expect(s.foreign).toBe(0);
    expect(s.unexpectedCloses).toBe(0);
    expect(s.deliveries).toBe(ledger.ackedCount * CHAT_SIZE);
  },
  300_000,
);
