/**
 * The coalescer behind the gateway's connect path: calls made while one load runs share the next
 * load; a lone call is loaded at once; a failed load fails only its own callers.
 */
import { expect, test } from "bun:test";
import { Coalescer } from "../../src/realtime/coalesce";

function gatedLoader() {
  const loads: number[][] = [];
  let release: (() => void) | null = null;
  const load = async (inputs: number[]) => {
    loads.push(inputs);
    await new Promise<void>((resolve) => (release = resolve));
    if (inputs.includes(-1)) throw new Error("boom");
    return inputs.map((n) => n * 10);
  };
  const releaseNext = async () => {
    while (!release) await Promise.resolve();
    const r = release as () => void;
    release = null;
    r();
  };
  return { loads, load, releaseNext };
}

test("calls made while a load is in flight go out together in the next one, answers in order", async () => {
  const { loads, load, releaseNext } = gatedLoader();
  const c = new Coalescer(load);
  const first = c.run(1);
  await Promise.resolve();
  const rest = [c.run(2), c.run(3), c.run(4)];
  await releaseNext();
  expect(await first).toBe(10);
  await releaseNext();
  expect(await Promise.all(rest)).toEqual([20, 30, 40]);
  expect(loads).toEqual([[1], [2, 3, 4]]);
});

test("calls of the same tick share the first load; batches are capped", async () => {
  const { loads, load, releaseNext } = gatedLoader();
  const c = new Coalescer(load, 2);
  const all = [c.run(1), c.run(2), c.run(3)];
  await releaseNext();
  await releaseNext();
  expect(await Promise.all(all)).toEqual([10, 20, 30]);
  expect(loads).toEqual([[1, 2], [3]]);
});

test("a failed load rejects its own callers only; the next batch still runs", async () => {
  const { load, releaseNext } = gatedLoader();
  const c = new Coalescer(load);
  const bad = [c.run(-1), c.run(5)].map((p) => p.then(String, (err: Error) => err.message));
  await Promise.resolve();
  const later = c.run(6);
  await releaseNext();
  expect(await Promise.all(bad)).toEqual(["boom", "boom"]);
  await releaseNext();
  expect(await later).toBe(60);
});
