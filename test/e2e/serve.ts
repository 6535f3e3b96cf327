/**
 * The server Playwright's webServer starts: `bun src/main.ts` on embedded defaults (PGlite, in-process
 * broker) in a fresh temporary DATA_DIR, with email verification and rate limits off. The data
 * directory is removed when the server exits.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const dataDir = mkdtempSync(join(tmpdir(), "parley-e2e-"));
const env: Record<string, string> = {};
for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== "DATABASE_URL" && k !== "REDIS_URL") env[k] = v;
Object.assign(env, {
  NODE_ENV: "development",
  HOST: "127.0.0.1",
  PORT: process.env.E2E_PORT ?? "4317",
  DATA_DIR: dataDir,
  REQUIRE_EMAIL_VERIFICATION: "false",
  LOGIN_RATE_LIMIT_PER_MINUTE: "0",
  REGISTER_RATE_LIMIT_PER_MINUTE: "0",
  REFRESH_RATE_LIMIT_PER_MINUTE: "0",
  MESSAGE_RATE_LIMIT_PER_MINUTE: "0",
  DUPLICATE_MESSAGE_COOLDOWN_SECONDS: "0",
});
const child = Bun.spawn(["bun", resolve(import.meta.dir, "../../src/main.ts")], { env, stdout: "inherit", stderr: "inherit" });
const stop = () => child.kill("SIGTERM");
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
const code = await child.exited;
rmSync(dataDir, { recursive: true, force: true });
process.exit(code);
