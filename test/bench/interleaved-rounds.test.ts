/**
 * The benchmark compares contenders (the hello and `auth.me`, the send and its driver floor) whose
 * rounds are interleaved, so a ratio compares the same stretch of time. Measured one after the
 * other, the same floor moved by more than some targets' margins between runs.
 */
import { expect, test } from "bun:test";
import { measureInterleaved, measureRounds, type Contender, type LoadResult } from "../../bench/lib/load";

const timing = { warmupMs: 5, rounds: 3, roundMs: 20 };

/** A contender that records its calls in `log` and answers `perSecond` operations per second. */
function recording(name: string, perSecond: number, log: string[]): Contender {
  return {
    cpu: { server: [process.pid], database: "no-such-database" },
    run: async (ms): Promise<LoadResult> => {
      log.push(`${name}:${ms}`);
      return { ok: (perSecond * ms) / 1000, errors: 0, seconds: ms / 1000, latenciesMs: [ms], firstError: undefined };
    },
  };
}

test("every contender warms up, then each round runs each contender once, starting one later each round", async () => {
  const log: string[] = [];
  const [a, b, c] = await measureInterleaved(timing, [recording("a", 100, log), recording("b", 200, log), recording("c", 300, log)]);
  expect(log).toEqual(["a:5", "b:5", "c:5", "a:20", "b:20", "c:20", "b:20", "c:20", "a:20", "c:20", "a:20", "b:20"]);
  // Results come back in the order given, each from its own rounds only (warm-ups excluded).
  expect(a?.rate).toEqual({ median: 100, min: 100, max: 100 });
  expect(b?.rate).toEqual({ median: 200, min: 200, max: 200 });
  expect(c?.rate).toEqual({ median: 300, min: 300, max: 300 });
  expect(a?.latency.n).toBe(3);
});

test("the rounds of one contender keep their own spread, errors and first error", async () => {
  const rates = [10, 30, 20];
  let call = 0;
  const varying: Contender = {
    cpu: { server: [process.pid], database: "no-such-database" },
    run: async (ms) => {
      const i = call++;
      if (i === 0) return { ok: 1, errors: 0, seconds: ms / 1000, latenciesMs: [] }; // warm-up
      const rate = rates[i - 1] ?? 0;
      return { ok: rate, errors: i === 2 ? 2 : 0, seconds: 1, latenciesMs: [rate], firstError: i === 2 ? "500 boom" : undefined };
    },
  };
  const steady = recording("steady", 50, []);
  const [v, s] = await measureInterleaved(timing, [varying, steady]);
  expect(v?.rate).toEqual({ median: 20, min: 10, max: 30 });
  expect(v?.errors).toBe(2);
  expect(v?.firstError).toBe("500 boom");
  expect(s?.errors).toBe(0);
  expect(s?.firstError).toBeUndefined();
});

test("measureRounds is one contender: warm-up, then the measured rounds", async () => {
  const log: string[] = [];
  const r = await measureRounds({ ...timing, ...recording("only", 40, log) });
  expect(log).toEqual(["only:5", "only:20", "only:20", "only:20"]);
  expect(r.rate.median).toBe(40);
});
