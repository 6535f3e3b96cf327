/**
 * `Broker.presenceSteps` (one round trip for many users' presence steps): the same rules on the
 * memory broker and on Redis (with REDIS_URL), step by step and within one batch.
 */
import { expect, test } from "bun:test";
import { presenceKeys } from "../../src/broker/broker";
import { scratchBroker } from "../helpers/broker";

const broker = scratchBroker("presence-steps");
let next = 1;
const user = () => next++;

const gateOpen = (u: number) => broker().del(presenceKeys.gate(u));

test("a connect takes the lease and announces once; a repeat within the gate is gated, later the same", async () => {
  const u = user();
  expect(await broker().presenceSteps([{ userId: u, add: "i:1", check: true }], 30)).toEqual(["on"]);
  expect(await broker().leaseMembers(presenceKeys.user(u))).toEqual(["i:1"]);
  expect(await broker().leaseMembers(presenceKeys.online)).toContain(String(u));
  expect(await broker().leaseMembers(presenceKeys.announced)).toContain(String(u));
  // Second connection of the same user: lease added even while the gate is shut.
  expect(await broker().presenceSteps([{ userId: u, add: "i:2", check: true }], 30)).toEqual(["gated"]);
  expect((await broker().leaseMembers(presenceKeys.user(u))).sort()).toEqual(["i:1", "i:2"]);
  await gateOpen(u);
  expect(await broker().presenceSteps([{ userId: u, check: true }], 30)).toEqual(["same"]);
});

test("closes: not the last local one, or leases left, change nothing; the last one announces off", async () => {
  const u = user();
  await broker().presenceSteps([{ userId: u, add: "a:1", check: false }, { userId: u, add: "b:1", check: false }], 30);
  expect(await broker().presenceSteps([{ userId: u, remove: "a:1", lastLocal: false, check: false }], 30)).toEqual(["skip"]);
  // Last on instance a, but instance b still holds one: still online.
  expect(await broker().presenceSteps([{ userId: u, remove: "a:1", lastLocal: true, check: true }], 30)).toEqual(["skip"]);
  expect(await broker().leaseMembers(presenceKeys.online)).toContain(String(u));
  // Never announced online (no check ran), now gone: nothing to announce.
  expect(await broker().presenceSteps([{ userId: u, remove: "b:1", lastLocal: true, check: true }], 30)).toEqual(["same"]);
  expect(await broker().leaseMembers(presenceKeys.online)).not.toContain(String(u));

  const w = user();
  expect(await broker().presenceSteps([{ userId: w, add: "a:1", check: true }], 30)).toEqual(["on"]);
  await gateOpen(w);
  expect(await broker().presenceSteps([{ userId: w, remove: "a:1", lastLocal: true, check: true }], 30)).toEqual(["off"]);
  expect(await broker().leaseMembers(presenceKeys.announced)).not.toContain(String(w));
});

test("one batch of many users answers each in order, as if run one by one", async () => {
  const ids = Array.from({ length: 50 }, user);
  const first = await broker().presenceSteps(
    ids.map((u) => ({ userId: u, add: `i:${u}`, check: true })),
    30,
  );
  expect(first).toEqual(ids.map(() => "on"));
  // The same user twice in one batch: the second is gated by the first.
  const [x] = ids as [number];
  await gateOpen(x);
  expect(await broker().presenceSteps([{ userId: x, remove: `i:${x}`, lastLocal: true, check: true }, { userId: x, add: `i:${x}b`, check: true }], 30)).toEqual(["off", "gated"]);
});

test("an expired lease does not count as online", async () => {
  const u = user();
  expect(await broker().presenceSteps([{ userId: u, add: "i:1", check: true }], 1)).toEqual(["on"]);
  await Bun.sleep(1100);
  await gateOpen(u);
  expect(await broker().presenceSteps([{ userId: u, check: true }], 30)).toEqual(["off"]);
});
