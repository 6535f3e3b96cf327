/**
 * postgres.js 3.4.9 keeps its pool's connections in queues (open, busy, full) whose `shift` leaves a
 * hole behind and whose `remove` scanned the whole array, holes included. Under steady load with
 * more callers than connections the busy queue never drains through `shift`, so the holes pile up
 * (one per query) and every query's `move` scans all of them: the server's CPU per query grew for
 * as long as load lasted (22 → 51 µs per `select` in 30 s at 32 callers on 8 connections), and
 * the benchmark's later scenarios paid for the earlier ones (REST auth.me, measured after tRPC
 * auth.me, at 0.69× of it). patches/postgres@3.4.9.patch makes `remove` start at the live part and
 * `shift` compact the array. This drives the queue the way the pool does under that load.
 */
import { describe, expect, test } from "bun:test";
import { dirname, join } from "node:path";

interface Queue<T> {
  readonly length: number;
  push(x: T): T;
  shift(): T | undefined;
  remove(x: T): T | null;
}

const queueModule = join(dirname(Bun.resolveSync("postgres", import.meta.dir)), "queue.js");
const { default: Queue } = (await import(queueModule)) as { default: <T>() => Queue<T> };

describe("postgres.js pool queue", () => {
  test("keeps FIFO order and removes live entries", () => {
    const q = Queue<string>();
    for (const x of ["a", "b", "c", "d"]) q.push(x);
    expect(q.shift()).toBe("a");
    expect(q.remove("a")).toBeNull();
    expect(q.remove("c")).toBe("c");
    expect(q.length).toBe(2);
    q.push("e");
    expect([q.shift(), q.shift(), q.shift(), q.shift()]).toEqual(["b", "d", "e", undefined]);
    expect(q.length).toBe(0);
  });

  test("order survives many shift/push cycles with entries removed in between", () => {
    const q = Queue<number>();
    const model: number[] = [];
    for (let i = 0; i < 8; i++) {
      q.push(i);
      model.push(i);
    }
    let next = 8;
    for (let k = 0; k < 10_000; k++) {
      expect(q.shift()).toBe(model.shift());
      if (k % 7 === 0 && model.length > 2) {
        const victim = model[1] as number;
        model.splice(1, 1);
        expect(q.remove(victim)).toBe(victim);
      }
      q.push(next);
      model.push(next++);
      expect(q.length).toBe(model.length);
    }
  });

  test("a busy queue under steady load costs the same per query however long the load lasts", () => {
    // The pool's `go(busy.shift(), query)` then `move(c, busy)`: shift, remove (not found), push.
    const q = Queue<{ id: number }>();
    for (let i = 0; i < 8; i++) q.push({ id: i });
    const started = performance.now();
    for (let k = 0; k < 200_000; k++) {
      const c = q.shift();
      if (!c) throw new Error("queue ran dry");
      q.remove(c);
      q.push(c);
    }
    const ms = performance.now() - started;
    // Linear: ~20 ms here. The scanning version is quadratic: ~2,800 ms for these 200,000 cycles.
    expect(ms).toBeLessThan(1000);
    expect(q.length).toBe(8);
  });
});
