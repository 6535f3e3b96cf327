/**
 * Benchmark results are named by date and commit; a subset run (`--only`) or a second run of the
 * same commit once overwrote a full run's files. Names now say what ran, and a taken name gets a
 * counter.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeResults, type Results } from "../../bench/lib/report";

const dir = mkdtempSync(join(tmpdir(), "parley-bench-results-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (over: Partial<Results>): Results => ({
  date: "2026-11-24T22:00:00.000Z",
  sha: "c5380cc5836773903be537639ea8d4e600d858b3",
  quick: false,
  machine: { cpus: 2, cpu_model: "test", bun: "1", postgres: "pg", redis: "r" },
  dataset: {},
  figures: [],
  skipped: [],
  seconds: 1,
  ...over,
});

test("a subset run and a second run of the same commit never overwrite the first", () => {
  const full = writeResults(dir, run({}));
  const subset = writeResults(dir, run({ only: ["fanout"] }));
  const again = writeResults(dir, run({}));
  const quick = writeResults(dir, run({ quick: true, only: ["http", "send"] }));
  expect(full.json).toEndWith("2026-11-24-c5380cc5.json");
  expect(subset.json).toEndWith("2026-11-24-c5380cc5-only-fanout.json");
  expect(again.json).toEndWith("2026-11-24-c5380cc5-2.json");
  expect(quick.md).toEndWith("2026-11-24-c5380cc5-quick-only-http+send.md");
  expect(readdirSync(dir).sort()).toHaveLength(8);
});
