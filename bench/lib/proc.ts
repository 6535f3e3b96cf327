/**
 * CPU seconds and memory of processes from /proc (Linux). The server is one pid; PostgreSQL is the
 * backends connected to the benchmark database (the cluster is shared with other work, so its
 * background processes are not counted); Redis is every redis-server process.
 */
import { readdirSync, readFileSync } from "node:fs";

const CLK_TCK = 100;

function read(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** utime+stime+cutime+cstime of `pid` in seconds; 0 when it is gone. */
export function cpuSeconds(pid: number): number {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return 0;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is state (field 3); utime is field 14 => index 11.
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0);
  return ticks / CLK_TCK;
}

/** Resident set size of `pid` in KiB (0 when gone). */
export function rssKiB(pid: number): number {
  const status = read(`/proc/${pid}/status`);
  const m = status ? /VmRSS:\s+(\d+)\s+kB/.exec(status) : null;
  return m ? Number(m[1]) : 0;
}

function allPids(): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

export function pidsWhere(test: (comm: string, cmdline: string) => boolean): number[] {
  const out: number[] = [];
  for (const pid of allPids()) {
    const comm = read(`/proc/${pid}/comm`)?.trim() ?? "";
    const cmdline = (read(`/proc/${pid}/cmdline`) ?? "").replace(/\0/g, " ").trim();
    if (test(comm, cmdline)) out.push(pid);
  }
  return out;
}

export interface CpuGroups {
  /** Server processes under test (one or more pids). */
  server: number[];
  /** Database name whose backends count as PostgreSQL. */
  database: string;
}

export interface CpuSnapshot {
  server: Map<number, number>;
  postgres: Map<number, number>;
  redis: Map<number, number>;
}

const snap = (pids: number[]) => new Map(pids.map((p) => [p, cpuSeconds(p)] as const));

export function cpuSnapshot(g: CpuGroups): CpuSnapshot {
  return {
    server: snap(g.server),
    postgres: snap(pidsWhere((comm, cmd) => comm === "postgres" && cmd.includes(` ${g.database} `))),
    redis: snap(pidsWhere((comm) => comm === "redis-server")),
  };
}

export interface CpuUsed {
  server: number;
  postgres: number;
  redis: number;
}

function delta(a: Map<number, number>, b: Map<number, number>): number {
  let sum = 0;
  for (const [pid, end] of b) sum += end - (a.get(pid) ?? 0);
  return sum;
}

/** CPU seconds used between two snapshots (pids that appeared count from zero). */
export function cpuUsed(a: CpuSnapshot, b: CpuSnapshot): CpuUsed {
  return { server: delta(a.server, b.server), postgres: delta(a.postgres, b.postgres), redis: delta(a.redis, b.redis) };
}
