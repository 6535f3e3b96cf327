/**
 * An exclusive lock on the embedded database's directory, held for the life of the process that
 * opened it. PGlite does not lock its data directory: two processes on one DATA_DIR each ran their
 * own copy of the database and the writes acknowledged by one were lost.
 *
 * The lock is a file next to the directory holding the owner's pid (and, on Linux, its start time).
 * It is created atomically (written under a unique name, then hard-linked into place, so it is
 * never seen half written) and removed on close and at process exit. A lock whose owner is no
 * longer running (killed with SIGKILL, power loss) is taken over: pids are checked with signal 0,
 * and a reused pid is told apart by its start time. An unreadable or empty lock file counts as
 * held: it can only come from outside this module, and guessing wrong loses data.
 */
import { closeSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";

export class DataDirInUseError extends Error {
  constructor(
    readonly dir: string,
    readonly pid: number | null,
    readonly lockFile: string,
  ) {
    super(`${dir} is in use by ${pid === null ? "another process" : `process ${pid}`} (lock file ${lockFile})`);
    this.name = "DataDirInUseError";
  }
}

export interface DirLock {
  readonly file: string;
  release(): void;
}

/** Lock files this process holds (a second open of the same directory in one process is refused too). */
const held = new Set<string>();
let exitHookInstalled = false;

/** Takes the lock on `dir` (the file `<dir>.lock`) or throws DataDirInUseError. */
export function lockDirectory(dir: string): DirLock {
  const file = `${dir.replace(/\/+$/, "")}.lock`;
  if (held.has(file)) throw new DataDirInUseError(dir, process.pid, file);
  const mine = ownerLine(process.pid);
  // Two rounds: the second after removing a stale lock. Losing the race for it to another process
  // starting at the same moment ends in DataDirInUseError naming that process.
  for (let attempt = 0; attempt < 2; attempt++) {
    if (tryCreate(file, mine)) {
      held.add(file);
      installExitHook();
      return { file, release: () => release(file, mine) };
    }
    const owner = readOwner(file);
    if (owner === "gone") continue;
    if (owner === null || isRunning(owner)) throw new DataDirInUseError(dir, owner?.pid ?? null, file);
    removeStale(file, owner.line);
  }
  throw new DataDirInUseError(dir, readOwnerPid(file), file);
}

interface Owner {
  pid: number;
  startTime: string | null;
  line: string;
}

function ownerLine(pid: number): string {
  return `${pid} ${startTimeOf(pid) ?? "-"}\n`;
}

/** Creates `file` with `content` unless it exists (content complete before the name appears). */
function tryCreate(file: string, content: string): boolean {
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  const fd = openSync(temp, "wx", 0o644);
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    unlinkSync(temp);
  }
}

/** The lock's owner; "gone" when the file vanished meanwhile; null when it cannot be parsed. */
function readOwner(file: string): Owner | "gone" | null {
  let line: string;
  try {
    line = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "gone";
    return null;
  }
  const m = /^(\d+) (\S+)\n$/.exec(line);
  if (!m) return null;
  return { pid: Number(m[1]), startTime: m[2] === "-" ? null : (m[2] ?? null), line };
}

function readOwnerPid(file: string): number | null {
  const owner = readOwner(file);
  return owner && owner !== "gone" ? owner.pid : null;
}

function isRunning(owner: Owner): boolean {
  // Our own pid in a file this process does not hold: left by an earlier process that had the
  // same pid (a container restarted, where the server is pid 1 each time).
  if (owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  // Alive; the same process only if its start time matches (where the system tells it).
  const now = startTimeOf(owner.pid);
  return owner.startTime === null || now === null || now === owner.startTime;
}

/**
 * Removes a stale lock, unless another process replaced it since it was read: the file is moved
 * aside atomically and checked; a fresh lock moved by mistake is put back.
 */
function removeStale(file: string, staleLine: string): void {
  const aside = `${file}.stale.${process.pid}`;
  try {
    renameSync(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  let line = "";
  try {
    line = readFileSync(aside, "utf8");
  } catch {}
  if (line !== staleLine) {
    try {
      linkSync(aside, file);
    } catch {}
  }
  unlinkSync(aside);
}

function release(file: string, mine: string): void {
  if (!held.delete(file)) return;
  try {
    if (readFileSync(file, "utf8") === mine) unlinkSync(file);
  } catch {}
}

/** Locks still held when the process exits (process.exit after a failed start) are removed. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    const mine = ownerLine(process.pid);
    for (const file of [...held]) release(file, mine);
  });
}

/** Linux: the process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat); else null. */
function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: count from its closing one.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}
