/** Percentiles and round summaries for the benchmark (no dependencies). */

/** The p-th percentile (0..100) of ascending `sorted`, nearest-rank; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  const i = Math.min(sorted.length - 1, Math.max(0, rank - 1));
  return sorted[i] ?? Number.NaN;
}

export interface Latency {
  n: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** Latency percentiles in milliseconds. */
export function latency(samples: readonly number[]): Latency {
  const s = Float64Array.from(samples).sort();
  const arr = Array.from(s);
  return { n: arr.length, p50: percentile(arr, 50), p99: percentile(arr, 99), p999: percentile(arr, 99.9), max: arr[arr.length - 1] ?? Number.NaN };
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** Median, min and max of the measured rounds. */
export function spread(values: readonly number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  return { median: percentile(s, 50), min: s[0] ?? Number.NaN, max: s[s.length - 1] ?? Number.NaN };
}

export const round = (v: number, digits = 2): number => (Number.isFinite(v) ? Math.round(v * 10 ** digits) / 10 ** digits : v);
