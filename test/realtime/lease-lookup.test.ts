/**
 * `Broker.leaseCount` and `Broker.leasesHeld` (presence asked about a few users without reading
 * everyone online): the same answers from the memory broker and from Redis (with REDIS_URL).
 */
import { expect, test } from "bun:test";
import { scratchBroker } from "../helpers/broker";

const broker = scratchBroker("lease-lookup");

test("an empty or unknown lease set counts 0 and holds nobody", async () => {
  expect(await broker().leaseCount("nothing-here")).toBe(0);
  expect(await broker().leasesHeld("nothing-here", ["1", "2"])).toEqual([false, false]);
  expect(await broker().leasesHeld("nothing-here", [])).toEqual([]);
});

test("live leases are counted and held, in the order asked; others are not", async () => {
  await broker().leaseAddMany(
    [
      ["set-a", "1"],
      ["set-a", "2"],
      ["set-a", "3"],
      ["set-b", "4"],
    ],
    60,
  );
  expect(await broker().leaseCount("set-a")).toBe(3);
  expect(await broker().leasesHeld("set-a", ["3", "4", "1", "9", "3"])).toEqual([true, false, true, false, true]);
  await broker().leaseRemove("set-a", "1");
  expect(await broker().leaseCount("set-a")).toBe(2);
  expect(await broker().leasesHeld("set-a", ["1", "2"])).toEqual([false, true]);
});

test("an expired lease is neither counted nor held, even before anything prunes it", async () => {
  await broker().leaseAdd("set-c", "live", 60);
  // A lease of 0 s expires as it is written (what a crashed instance's leases become).
  await broker().leaseAdd("set-c", "short", 0);
  expect(await broker().leaseCount("set-c")).toBe(1);
  expect(await broker().leasesHeld("set-c", ["short", "live"])).toEqual([false, true]);
});

test("many members are answered in one call (more than one Redis command's worth)", async () => {
  const members = Array.from({ length: 12_000 }, (_, i) => String(i));
  await broker().leaseAddMany(
    members.filter((_, i) => i % 3 === 0).map((m) => ["set-d", m] as const),
    60,
  );
  const held = await broker().leasesHeld("set-d", members);
  expect(held.length).toBe(members.length);
  expect(held.every((h, i) => h === (i % 3 === 0))).toBe(true);
  expect(await broker().leaseCount("set-d")).toBe(4000);
});
