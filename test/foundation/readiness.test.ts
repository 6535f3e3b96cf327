import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../src/app";
import { loadConfig } from "../../src/env";
import { startServer } from "../../src/server";
import { baseTestEnv, createTestDatabase, usingPostgres } from "../helpers/server";

/** A server whose database or broker points at a closed port. */
async function serverWith(env: Record<string, string>) {
  const config = loadConfig({ ...baseTestEnv(mkdtempSync(join(tmpdir(), "parley-ready-"))), ...env });
  const app = await createApp(config, { pgliteDir: "memory://", migrate: false, logSink: () => {} });
  const running = await startServer(app, { port: 0 });
  return {
    url: running.url,
    stop: async () => {
      await running.stop();
      await app.close().catch(() => {});
    },
  };
}

describe("readiness", () => {
  test("database unreachable: 503 with db false", async () => {
    const s = await serverWith({ DATABASE_URL: "postgres://postgres@127.0.0.1:1/none" });
    try {
      const started = Date.now();
      const r = await fetch(`${s.url}/health/ready`);
      expect(r.status).toBe(503);
      expect(await r.json()).toEqual({ detail: { status: "not_ready", db: false, redis: true } });
      expect(Date.now() - started).toBeLessThan(5000);
      // Liveness does not depend on the database.
      expect((await fetch(`${s.url}/health/live`)).status).toBe(200);
    } finally {
      await s.stop();
    }
  });

  test("redis unreachable: 503 with redis false", async () => {
    const s = await serverWith({ REDIS_URL: "redis://127.0.0.1:1" });
    try {
      const r = await fetch(`${s.url}/health/ready`);
      expect(r.status).toBe(503);
      expect(await r.json()).toEqual({ detail: { status: "not_ready", db: true, redis: false } });
    } finally {
      await s.stop();
    }
  });

  test("unmigrated database (production does not migrate on start): 503 with migrations pending until migrated", async () => {
    // A fresh database: a new PostgreSQL database, or a PGlite directory of its own (in-memory
    // PGlite starts from a migrated template).
    const dataDir = mkdtempSync(join(tmpdir(), "parley-unmigrated-"));
    const fresh = usingPostgres ? await createTestDatabase() : null;
    const config = loadConfig({ ...baseTestEnv(dataDir), ...(fresh ? { DATABASE_URL: fresh.url } : {}) });
    const app = await createApp(config, { pgliteDir: join(dataDir, "pglite"), migrate: false, logSink: () => {} });
    const running = await startServer(app, { port: 0 });
    try {
      const r = await fetch(`${running.url}/health/ready`);
      expect(r.status).toBe(503);
      expect(await r.json()).toEqual({ detail: { status: "not_ready", db: true, redis: true, migrations: "pending" } });
      await app.database.migrate();
      const after = await fetch(`${running.url}/health/ready`);
      expect(after.status).toBe(200);
      expect(await after.json()).toEqual({ status: "ready", db: "ok", redis: "ok" });
    } finally {
      await running.stop();
      await app.close().catch(() => {});
      await fresh?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
