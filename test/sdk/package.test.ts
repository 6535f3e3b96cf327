/**
 * The published shape of @parley/client: build it, install the built files into an empty project
 * that has only @trpc/client (and its peer @trpc/server), typecheck a consumer against the .d.ts
 * (including calls that must NOT compile), then run that consumer against a real server.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startTestServer, type TestServer } from "../helpers/server";

const root = resolve(import.meta.dir, "../..");
const sdkDir = join(root, "client-sdk");
const trpcVersion = (JSON.parse(readFileSync(join(root, "node_modules/@trpc/client/package.json"), "utf8")) as { version: string }).version;

const CONSUMER = `
import { connectRealtime, createParleyClient, TRPCClientError, type MessageRead, type RouterInputs, type RouterOutputs } from "@parley/client";

declare const process: { env: Record<string, string | undefined>; exit(code: number): never };
const url = process.env.PARLEY_URL ?? "http://127.0.0.1:1";
const tag = process.env.PARLEY_TAG ?? "x";

const register: RouterInputs["auth"]["register"] = { email: tag + "@example.com", name: "Consumer", username: "c_" + tag, password: "correct-horse-battery" };
const anon = createParleyClient({ url });
const registered: RouterOutputs["auth"]["register"] = await anon.auth.register.mutate(register);
const tokens = await anon.auth.login.mutate({ email: register.email, password: register.password });
const access: string = tokens.access_token;
const api = createParleyClient({ url, token: () => access });
const me = await api.auth.me.query({});
const id: number = me.id;

let failed = "";
try {
  await createParleyClient({ url, token: "not-a-token" }).auth.me.query({});
} catch (err) {
  if (err instanceof TRPCClientError) failed = err.message;
}

// Typed event payloads: a message_created handler sees MessageRead.
const onMessage = (m: MessageRead) => m;
void onMessage;
void connectRealtime;

// None of these may compile: the types are real, not any. (Never called: types only.)
export function mustNotCompile(): void {
  // @ts-expect-error unknown procedure
  void api.auth.nope;
  // @ts-expect-error wrong field name
  void anon.auth.login.mutate({ mail: "a@b.c", password: "x" });
  // @ts-expect-error id is a number
  const notString: string = me.id;
  void notString;
}

console.log(JSON.stringify({ registered: registered.message, id, username: me.username, failed }));
`;

let server: TestServer;
let work: string;

beforeAll(async () => {
  server = await startTestServer({ env: { REQUIRE_EMAIL_VERIFICATION: "false" } });
  work = mkdtempSync(join(tmpdir(), "parley-sdk-consumer-"));
});
afterAll(async () => {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("@parley/client as a package", () => {
  test(
    "builds, typechecks in a project without our source, and talks to the server",
    async () => {
      const build = Bun.spawnSync(["bun", "run", "build"], { cwd: sdkDir, stdout: "pipe", stderr: "pipe" });
      expect(build.exitCode, build.stderr.toString()).toBe(0);
      for (const f of ["index.js", "index.d.ts", "app-router.d.ts", "realtime.d.ts"]) expect(existsSync(join(sdkDir, "dist", f))).toBe(true);

      // The declarations reference nothing of the server: no relative escapes, no server packages.
      const dts = readFileSync(join(sdkDir, "dist", "app-router.d.ts"), "utf8");
      expect(dts).not.toMatch(/from "\.\.\//);
      expect(dts).not.toMatch(/zod|drizzle|ioredis|postgres|pglite|src\/routers/);

      writeFileSync(
        join(work, "package.json"),
        JSON.stringify({ name: "consumer", private: true, type: "module", dependencies: { "@trpc/client": trpcVersion, "@trpc/server": trpcVersion } }),
      );
      const install = Bun.spawnSync(["bun", "install", "--no-save", "--omit", "peer"], { cwd: work, stdout: "pipe", stderr: "pipe" });
      expect(install.exitCode, install.stderr.toString()).toBe(0);
      const pkgTarget = join(work, "node_modules", "@parley", "client");
      mkdirSync(pkgTarget, { recursive: true });
      cpSync(join(sdkDir, "dist"), join(pkgTarget, "dist"), { recursive: true });
      cpSync(join(sdkDir, "package.json"), join(pkgTarget, "package.json"));
      expect(existsSync(join(work, "node_modules", "zod"))).toBe(false);

      writeFileSync(join(work, "consumer.ts"), CONSUMER);
      writeFileSync(
        join(work, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            target: "ES2022",
            module: "ESNext",
            moduleResolution: "bundler",
            lib: ["ES2023", "ESNext.Disposable", "DOM"],
            types: [],
            strict: true,
            noUncheckedIndexedAccess: true,
            noEmit: true,
            skipLibCheck: false,
          },
          files: ["consumer.ts"],
        }),
      );
      const tsc = Bun.spawnSync([join(root, "node_modules", ".bin", "tsc"), "-p", join(work, "tsconfig.json")], { cwd: work, stdout: "pipe", stderr: "pipe" });
      expect(tsc.stdout.toString() + tsc.stderr.toString()).toBe("");
      expect(tsc.exitCode).toBe(0);

      const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
      // Asynchronous: the server answering the consumer runs in this process.
      const run = Bun.spawn(["bun", "consumer.ts"], { cwd: work, env: { ...process.env, PARLEY_URL: server.url, PARLEY_TAG: tag }, stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr, code] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited]);
      expect(code, stderr).toBe(0);
      const out = JSON.parse(stdout.trim()) as { registered: string; id: number; username: string; failed: string };
      expect(out.registered.length).toBeGreaterThan(0);
      expect(out.id).toBeGreaterThan(0);
      expect(out.username).toBe(`c_${tag}`);
      expect(out.failed.length).toBeGreaterThan(0);
    },
    { timeout: 300_000 },
  );
});
