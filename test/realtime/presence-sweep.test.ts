/**
 * The presence sweep (users of a crashed instance go offline) runs every period on the instance
 * whose tick takes its lock. The lock used to hold for the whole period, so the same instance's next
 * tick, one period after the previous one, still found it and skipped: sweeps ran every second
 * period and a crashed instance's users went offline up to a period late.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { App } from "../../src/app";
import { PresenceTracker, sweepLockSeconds } from "../../src/realtime/presence";
import { startTestServer, type TestServer } from "../helpers/server";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.stop());

test("a sweep one period after the last one takes the lock again", async () => {
  const period = 1;
  // Counts the sweeps that got past the lock (each reads the announced set first).
  let swept = 0;
  const broker = server.app.broker;
  const counting = Object.create(broker) as typeof broker;
  counting.leaseMembers = async (key: string) => {
    swept += 1;
    return broker.leaseMembers(key);
  };
  const tracker = new PresenceTracker({ ...server.app, broker: counting } as App, () => {});
  // Another instance's lock from an earlier period must not be in the way.
  await broker.del("presence:sweep");
  const tick = performance.now();
  await tracker.sweep(period);
  // The next tick of the same timer: a period after the first, which is a few milliseconds less
  // than a period after the lock was set (the lock's command queues behind the lease refresh).
  await Bun.sleep(Math.max(0, tick + period * 1000 - 20 - performance.now()));
  await tracker.sweep(period);
  tracker.stop();
  expect(swept).toBe(2);
  expect(sweepLockSeconds(10)).toBe(9.5);
});
