/**
 * One process per embedded database: a second server (or `db:migrate`) on the same DATA_DIR stops
 * with one line naming the process that holds it; a clean stop releases the lock, and a lock left
 * by a killed process does not block the next start. Always embedded PGlite (the lock is about
 * DATA_DIR/pglite), whichever database the rest of the suite runs on.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { childEnv, MIGRATE_CLI, spawnMain, type MainProcess } from "./main-process";

const started: MainProcess[] = [];
const dirs: string[] = [];

function start(dataDir: string, script?: string): MainProcess {
  const p = spawnMain(childEnv(dataDir), script);
  started.push(p);
  return p;
}

afterAll(() => {
  for (const p of started) p.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("DATA_DIR lock (embedded database)", () => {
  test("a second process on the same DATA_DIR exits 1 with one line; SIGKILL leaves no blocking lock; SIGTERM releases it", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "parley-lock-"));
    dirs.push(dataDir);
    const lockFile = join(dataDir, "pglite.lock");

    const first = start(dataDir);
    const firstUrl = await first.listening();

    const second = start(dataDir);
    expect(await second.exited).toBe(1);
    expect(second.lines.filter((l) => l.trim() !== "")).toEqual([
      `start-up error: DATA_DIR ${dataDir} is in use by process ${first.pid} (lock file ${lockFile})`,
    ]);
    expect(existsSync(lockFile)).toBe(true);
    const migrate = start(dataDir, MIGRATE_CLI);
    expect(await migrate.exited).toBe(1);
    expect(migrate.lines.join("\n")).toContain(`DATA_DIR ${dataDir} is in use by process ${first.pid}`);
    // The first one is untouched by the attempts.
    expect((await fetch(`${firstUrl}/health/ready`)).status).toBe(200);

    first.proc.kill("SIGKILL");
    await first.exited;
    expect(existsSync(lockFile)).toBe(true);

    const third = start(dataDir);
    const thirdUrl = await third.listening();
    expect((await fetch(`${thirdUrl}/health/ready`)).status).toBe(200);
    third.proc.kill("SIGTERM");
    expect(await third.exited).toBe(0);
    expect(existsSync(lockFile)).toBe(false);
  });

  test("separate DATA_DIRs do not block each other", async () => {
    const a = mkdtempSync(join(tmpdir(), "parley-lock-a-"));
    const b = mkdtempSync(join(tmpdir(), "parley-lock-b-"));
    dirs.push(a, b);
    const pa = start(a);
    const pb = start(b);
    await Promise.all([pa.listening(), pb.listening()]);
    pa.proc.kill("SIGTERM");
    pb.proc.kill("SIGTERM");
    expect([await pa.exited, await pb.exited]).toEqual([0, 0]);
  });
});
