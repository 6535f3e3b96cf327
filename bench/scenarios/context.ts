/** What every scenario gets: timing, the processes under test, the dataset, and the report. */
import type { Figure, Skipped } from "../lib/report";
import type { Child } from "../lib/services";
import type { Seeded } from "../seed";

export interface Timing {
  warmupMs: number;
  roundMs: number;
  rounds: number;
}

export interface BenchContext {
  quick: boolean;
  timing: Timing;
  parley: Child;
  hello: Child;
  seeded: Seeded;
  database: string;
  figures: Figure[];
  skipped: Skipped[];
  log(m: string): void;
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** True when `path` exists on the server (anything but 404/405 from a probe request). */
export async function endpointExists(url: string, init?: RequestInit): Promise<boolean> {
  try {
    const res = await fetch(url, init);
    await res.arrayBuffer();
    return res.status !== 404 && res.status !== 405;
  } catch {
    return false;
  }
}

export function ratioFigure(f: Figure, min: number | null, maxIsBetter = true): Figure {
  if (!f.floor || f.floor.value === 0) return f;
  const ratio = f.value / f.floor.value;
  return { ...f, ratio, holds: min === null ? undefined : maxIsBetter ? ratio >= min : ratio <= min };
}
