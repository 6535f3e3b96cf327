/**
 * A commit wakes the committing instance's tailer directly (src/realtime/local-wake-up.ts), so its
 * own receivers do not wait for the broker's round trip, and the copy that comes back from the
 * broker does not make the tailer read or deliver anything twice. A hold (what the gateway catches
 * sockets up under in a reconnect storm) keeps the cursor still until it ends.
 *
 * The tailer under test polls once a minute, so only a wake-up can deliver within the test; the
 * broker's events channel is made to lose every message (as Redis pub/sub may) to show the local
 * path on its own.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { transact } from "../../src/db/transact";
import type { LoggedEvent } from "../../src/realtime/event-types";
import { Tailer } from "../../src/realtime/tailer";
import { wakeUpLast } from "../../src/realtime/wake-up";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";

let server: TestServer;
let alice: TestUser;
let tailer: Tailer<null>;
const delivered: LoggedEvent[] = [];
let prepares = 0;

beforeAll(async () => {
  server = await startTestServer();
  alice = await createUser(server);
  tailer = new Tailer<null>(
    server.app,
    {
      async prepare() {
        prepares++;
        return null;
      },
      deliver(events) {
        delivered.push(...events);
      },
    },
    60_000,
  );
  await tailer.start();
}, 180_000);

afterAll(async () => {
  await tailer.stop();
  await server.stop();
});

async function deliveredMark(mark: string, timeoutMs = 5_000): Promise<LoggedEvent[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = delivered.filter((e) => (e.data as { mark?: string }).mark === mark);
    if (found.length > 0 || Date.now() > deadline) return found;
    await Bun.sleep(10);
  }
}

test("the committing instance's tailer is woken without the broker", async () => {
  const broker = server.app.broker;
  const publish = broker.publish.bind(broker);
  broker.publish = async (channel, message) => {
    if (channel !== server.app.eventsChannel) return publish(channel, message);
  };
  try {
    const mark = `local-${Date.now()}`;
    await transact(server.app, async (_tx, events) => events.toUser(alice.id, "notification", { mark }));
    const found = await deliveredMark(mark);
    expect(found.map((e) => e.type)).toEqual(["notification"]);
  } finally {
    broker.publish = publish;
  }
});

test("the broker's copy of a local wake-up delivers nothing twice and reads nothing more", async () => {
  await tailer.caughtUp();
  const before = delivered.length;
  const preparesBefore = prepares;
  const readsBefore = tailer.logReads;
  const mark = `echo-${Date.now()}`;
  await transact(server.app, async (_tx, events) => {
    events.toUser(alice.id, "notification", { mark, n: 1 });
    events.toUser(alice.id, "notification", { mark, n: 2 });
  });
  expect(await deliveredMark(mark)).toHaveLength(2);
  // The broker's copy has arrived by now (a round trip to Redis); give it time to do harm.
  await Bun.sleep(200);
  const seqs = delivered.slice(before).map((e) => e.seq);
  expect(new Set(seqs).size).toBe(seqs.length);
  expect(seqs).toHaveLength(2);
  // One batch: the carried events, and no read of the log.
  expect(prepares - preparesBefore).toBe(1);
  expect(tailer.logReads - readsBefore).toBe(0);
});

test("a wake-up's position is read without parsing its events", () => {
  expect(wakeUpLast('{"last":42,"events":[[1,null,"message_created",{"text":"{\\"last\\":7,"}]]}')).toBe(42);
  expect(wakeUpLast("17")).toBe(17);
  expect(wakeUpLast("")).toBeNull();
  expect(wakeUpLast('{"last":x,')).toBeNull();
  expect(wakeUpLast('{"last":5')).toBeNull();
});

test("a hold keeps the cursor still; what commits meanwhile is delivered after it, once, in order", async () => {
  await tailer.caughtUp();
  const before = tailer.cursor;
  const mark = `held-${Date.now()}`;
  await tailer.hold(async () => {
    await transact(server.app, async (_tx, events) => {
      events.toUser(alice.id, "notification", { mark, n: 1 });
      events.toUser(alice.id, "notification", { mark, n: 2 });
    });
    // The wake-up has arrived by now; only the hold keeps the batch back.
    await Bun.sleep(300);
    expect(tailer.cursor).toBe(before);
    expect(delivered.filter((e) => (e.data as { mark?: string }).mark === mark)).toEqual([]);
  });
  const found = await deliveredMark(mark);
  expect(found.map((e) => (e.data as { n: number }).n)).toEqual([1, 2]);
  expect(tailer.cursor).toBeGreaterThan(before);
});

