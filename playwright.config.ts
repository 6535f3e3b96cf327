/**
 * Browser end-to-end tests of /app (bun run test:e2e). The browser is Debian's chromium
 * (Playwright cannot download its own here; see shared/PITFALLS.md). The server is a fresh
 * `bun src/main.ts` on embedded defaults in a temporary DATA_DIR (test/e2e/serve.ts).
 */
import { defineConfig } from "@playwright/test";

const port = Number(process.env.E2E_PORT ?? 4317);
const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export default defineConfig({
  testDir: "test/e2e",
  testMatch: "*.spec.ts",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: process.env.CI ? [["list"]] : [["list"]],
  outputDir: "test-results",
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    browserName: "chromium",
    headless: true,
    launchOptions: { executablePath: chromium, args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"] },
    trace: "retain-on-failure",
  },
  webServer: {
    command: `bun test/e2e/serve.ts`,
    url: `http://127.0.0.1:${port}/health`,
    env: { E2E_PORT: String(port) },
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: "ignore",
    stderr: "pipe",
  },
});
