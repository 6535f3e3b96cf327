import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../src/env";

const MAIN = join(import.meta.dir, "../../src/main.ts");

async function runMain(env: Record<string, string>) {
  const proc = Bun.spawn(["bun", MAIN], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", DATA_DIR: mkdtempSync(join(tmpdir(), "parley-cfg-")), ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const code = await proc.exited;
  const out = (await new Response(proc.stdout).text()) + (await new Response(proc.stderr).text());
  return { code, out };
}

describe("configuration", () => {
  test("defaults match CONTRACT §1", () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(3000);
    expect(c.HOST).toBe("127.0.0.1");
    expect(c.DATA_DIR).toBe(".data");
    expect(c.ACCESS_TOKEN_TTL_SECONDS).toBe(900);
    expect(c.REFRESH_TOKEN_TTL_SECONDS).toBe(2592000);
    expect(c.FRONTEND_URL).toBe("http://localhost:5173");
    expect(c.MAX_UPLOAD_SIZE_BYTES).toBe(52428800);
    expect([c.LOGIN_RATE_LIMIT_PER_MINUTE, c.REGISTER_RATE_LIMIT_PER_MINUTE, c.REFRESH_RATE_LIMIT_PER_MINUTE, c.RESET_RATE_LIMIT_PER_MINUTE, c.MESSAGE_RATE_LIMIT_PER_MINUTE]).toEqual([10, 5, 30, 5, 60]);
    expect(c.DUPLICATE_MESSAGE_COOLDOWN_SECONDS).toBe(10);
    expect(c.REQUIRE_EMAIL_VERIFICATION).toBe(true);
    expect(c.TRUST_PROXY).toBe(false);
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.REDIS_URL).toBeUndefined();
  });

  test.each([
    [{ DATABASE_URL: "not a url" }, "DATABASE_URL"],
    [{ REDIS_URL: "http://localhost" }, "REDIS_URL"],
    [{ MESSAGE_RATE_LIMIT_PER_MINUTE: "-1" }, "MESSAGE_RATE_LIMIT_PER_MINUTE"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    [{ TRUST_PROXY: "maybe" }, "TRUST_PROXY"],
    [{ JWT_SECRET: "short" }, "JWT_SECRET"],
    [{ PORT: "70000" }, "PORT"],
    [{ CORS_ALLOWED_ORIGINS: "https://app.example.com/path" }, "CORS_ALLOWED_ORIGINS"],
  ])("bad value %p names %s", (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    try {
      loadConfig(env);
    } catch (err) {
      expect((err as Error).message.startsWith(`${name}:`)).toBe(true);
    }
  });

  test("production refuses embedded defaults and names what is missing", () => {
    expect(() => loadConfig({ NODE_ENV: "production" })).toThrow("DATABASE_URL, REDIS_URL, JWT_SECRET: required when NODE_ENV=production");
    expect(() =>
      loadConfig({ NODE_ENV: "production", DATABASE_URL: "postgres://x@localhost/db", REDIS_URL: "redis://localhost:6379" }),
    ).toThrow("JWT_SECRET: required");
  });

  test("start-up with bad configuration: one line, exit code 1, no stack trace", async () => {
    const r = await runMain({ MAX_UPLOAD_SIZE_BYTES: "lots" });
    expect(r.code).toBe(1);
    expect(r.out.trim().split("\n")).toHaveLength(1);
    expect(r.out).toContain("MAX_UPLOAD_SIZE_BYTES");
    expect(r.out).not.toContain("    at ");
  });

  test("a HOST that is no address or host name, or a port already taken: one line naming them, exit 1", async () => {
    for (const host of ["999.1.1.1", "not_a_host"]) {
      const r = await runMain({ HOST: host, PORT: "0" });
      expect([host, r.code, r.out.trim().split("\n").length]).toEqual([host, 1, 1]);
      expect(r.out).toContain("configuration error: HOST:");
    }
    expect(() => loadConfig({ HOST: "::1" })).not.toThrow();
    expect(() => loadConfig({ HOST: "my-host.internal" })).not.toThrow();
    const taken = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
    try {
      const r = await runMain({ HOST: "127.0.0.1", PORT: String(taken.port) });
      expect(r.code).toBe(1);
      expect(r.out.trim().split("\n")).toHaveLength(1);
      expect(r.out).toContain(`cannot listen on 127.0.0.1:${taken.port} (HOST, PORT): EADDRINUSE`);
      expect(r.out).not.toContain("    at ");
    } finally {
      taken.stop(true);
    }
  });

  test("production start without services exits 1 naming each missing variable", async () => {
    const r = await runMain({ NODE_ENV: "production" });
    expect(r.code).toBe(1);
    expect(r.out).toContain("DATABASE_URL, REDIS_URL, JWT_SECRET");
  });
});
