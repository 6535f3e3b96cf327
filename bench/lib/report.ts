/** Figures, their floors and targets; the results JSON and the markdown table. */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { round } from "./stats";

export interface Figure {
  scenario: string;
  name: string;
  unit: string;
  /** Median of the measured rounds (or the single measured value). */
  value: number;
  min?: number;
  max?: number;
  /** Operations per CPU-second of the server (throughput figures). */
  perServerCpu?: number;
  /** CPU seconds per round: server, PostgreSQL (benchmark backends), Redis. */
  cpu?: { server: number; postgres: number; redis: number };
  floor?: { name: string; value: number; perServerCpu?: number };
  /** value / floor.value */
  ratio?: number;
  target?: string;
  /** True/false when a target applies and could be judged; null when not measured. */
  holds?: boolean | null;
  note?: string;
}

export interface Skipped {
  scenario: string;
  reason: string;
}

export interface Results {
  date: string;
  sha: string;
  quick: boolean;
  /** The scenarios run, when `--only` named a subset. */
  only?: string[];
  machine: Record<string, string | number>;
  dataset: Record<string, number>;
  figures: Figure[];
  skipped: Skipped[];
  seconds: number;
}

const fmt = (v: number | undefined): string => {
  if (v === undefined || Number.isNaN(v)) return "–";
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString("en-US");
  if (a >= 10) return String(round(v, 1));
  return String(round(v, 2));
};

export function markdownTable(r: Results): string {
  const lines = [
    `Run ${r.date} at ${r.sha}${r.quick ? " (--quick)" : ""}${r.only ? ` (--only=${r.only.join(",")})` : ""}; ${r.machine.cpus} × ${r.machine.cpu_model}, Bun ${r.machine.bun}, ${r.machine.postgres}, Redis ${r.machine.redis}; ${Math.round(r.seconds)} s.`,
    "",
    `Dataset: ${Object.entries(r.dataset)
      .map(([k, v]) => `${v.toLocaleString("en-US")} ${k}`)
      .join(", ")}.`,
    "",
    "| scenario | figure | value (median) | min–max | per server CPU-s | floor | floor value | ratio | target | holds |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const f of r.figures) {
    const range = f.min !== undefined && f.max !== undefined ? `${fmt(f.min)}–${fmt(f.max)}` : "";
    const holds = f.holds === undefined ? "" : f.holds === null ? "n/a" : f.holds ? "yes" : "**no**";
    lines.push(
      `| ${f.scenario} | ${f.name}${f.note ? ` (${f.note})` : ""} | ${fmt(f.value)} ${f.unit} | ${range} | ${fmt(f.perServerCpu)} | ${f.floor?.name ?? ""} | ${f.floor ? fmt(f.floor.value) : ""} | ${f.ratio !== undefined ? `${fmt(f.ratio)}×` : ""} | ${f.target ?? ""} | ${holds} |`,
    );
  }
  if (r.skipped.length) {
    lines.push("", "Skipped:", "");
    for (const s of r.skipped) lines.push(`- ${s.scenario}: ${s.reason}`);
  }
  return lines.join("\n") + "\n";
}

/**
 * `<date>-<sha>[-quick][-only-<scenarios>]`, with `-2`, `-3` … when that name is taken: a subset run
 * or a second run of the same commit must never overwrite a run already written (it once replaced
 * a full run's files with an `--only=fanout` run's).
 */
export function resultsBaseName(dir: string, r: Pick<Results, "date" | "sha" | "quick" | "only">): string {
  const base = `${r.date.slice(0, 10)}-${r.sha.slice(0, 8)}${r.quick ? "-quick" : ""}${r.only ? `-only-${r.only.join("+")}` : ""}`;
  const taken = (name: string) => existsSync(join(dir, `${name}.json`)) || existsSync(join(dir, `${name}.md`));
  if (!taken(base)) return base;
  let n = 2;
  while (taken(`${base}-${n}`)) n++;
  return `${base}-${n}`;
}

export function writeResults(dir: string, r: Results): { json: string; md: string } {
  mkdirSync(dir, { recursive: true });
  const base = resultsBaseName(dir, r);
  const json = join(dir, `${base}.json`);
  const md = join(dir, `${base}.md`);
  writeFileSync(json, JSON.stringify(r, null, 2) + "\n");
  writeFileSync(md, markdownTable(r));
  return { json, md };
}
