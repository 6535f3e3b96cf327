/**
 * A database that cannot be used stops `bun src/main.ts` and `bun run db:migrate` with one line
 * naming DATABASE_URL (without its password) and the cause, exit code 1, no stack trace
 * (CONTRACT §1). In every NODE_ENV: production does not migrate on start, so the connection is
 * checked before listening.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BASE_DATABASE_URL, usingPostgres } from "../helpers/server";
import { childEnv, MAIN, MIGRATE_CLI, spawnMain } from "./main-process";

/** A port nothing listens on: one the kernel handed out and that was closed again. */
async function closedPort(): Promise<number> {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const port = s.port;
  await s.stop(true);
  if (port === undefined) throw new Error("no port");
  return port;
}

async function run(script: string, env: Record<string, string>) {
  const p = spawnMain(childEnv(mkdtempSync(join(tmpdir(), "parley-startup-")), env), script);
  const code = await p.exited;
  return { code, lines: p.lines.filter((l) => l.trim() !== "" && !l.startsWith("$ ")) };
}

const production = { NODE_ENV: "production", REDIS_URL: "redis://127.0.0.1:1" };

describe("database start-up errors", () => {
  test("unreachable DATABASE_URL: one line naming it without the password, exit 1 (main in dev and production, db:migrate)", async () => {
    const port = await closedPort();
    const url = `postgres://postgres:s3cret-pass@127.0.0.1:${port}/x`;
    const shown = `postgres://postgres@127.0.0.1:${port}/x`;
    for (const [script, env, prefix] of [
      [MAIN, {}, "start-up error"],
      [MAIN, production, "start-up error"],
      [MIGRATE_CLI, {}, "migration error"],
    ] as const) {
      const r = await run(script, { ...env, DATABASE_URL: url });
      expect([script, r.code, r.lines]).toEqual([script, 1, [`${prefix}: cannot connect to DATABASE_URL ${shown}: ECONNREFUSED`]]);
      expect(r.lines.join("\n")).not.toContain("s3cret-pass");
    }
  });

  test.skipIf(!usingPostgres)("a database that does not exist: one line with the server's reason, exit 1", async () => {
    const url = new URL(BASE_DATABASE_URL ?? "");
    url.pathname = `/parley_missing_${Date.now().toString(36)}`;
    for (const [script, env] of [
      [MAIN, {}],
      [MAIN, production],
      [MIGRATE_CLI, {}],
    ] as const) {
      const r = await run(script, { ...env, DATABASE_URL: url.toString() });
      expect([script, r.code, r.lines.length]).toEqual([script, 1, 1]);
      expect(r.lines[0]).toContain(`cannot connect to DATABASE_URL ${url.toString()}: database "${url.pathname.slice(1)}" does not exist`);
    }
  });
});
