/**
 * A client generated from our OpenAPI document alone (openapi-typescript types + openapi-fetch),
 * typechecked in a project that has none of our source, registers, logs in and sends a message.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startTestServer, type TestServer } from "../helpers/server";

const root = resolve(import.meta.dir, "../..");

const CONSUMER = `
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

declare const process: { env: Record<string, string | undefined> };
const tag = process.env.PARLEY_TAG ?? "x";
const api = createClient<paths>({ baseUrl: (process.env.PARLEY_URL ?? "") + "/api/v1" });

type Register = components["schemas"]["RegisterRequest"];
async function account(who: string): Promise<{ id: number; token: string }> {
  const body: Register = { email: who + tag + "@example.com", name: who, username: who + "_" + tag, password: "correct-horse-battery" };
  const reg = await api.POST("/auth/register", { body });
  if (reg.response.status !== 201) throw new Error("register " + reg.response.status);
  const login = await api.POST("/auth/login", { body: { email: body.email, password: body.password } });
  if (!login.data) throw new Error("login " + JSON.stringify(login.error));
  const token: string = login.data.access_token;
  const me = await api.GET("/auth/me", { headers: { authorization: "Bearer " + token } });
  if (!me.data) throw new Error("me");
  return { id: me.data.id, token };
}

const alice = await account("alice");
const bob = await account("bob");
const asAlice = { headers: { authorization: "Bearer " + alice.token } };
const chat = await api.POST("/chats", { ...asAlice, body: { type: "private", member_ids: [bob.id] } });
if (!chat.data) throw new Error("chat " + JSON.stringify(chat.error));
const sent = await api.POST("/messages", { ...asAlice, body: { chat_id: chat.data.id, text: "sent by a generated client" } });
if (!sent.data) throw new Error("send " + JSON.stringify(sent.error));
const message: components["schemas"]["MessageRead"] = sent.data;
const history = await api.GET("/messages/{chat_id}", { params: { path: { chat_id: chat.data.id }, query: { limit: 10 } }, headers: { authorization: "Bearer " + bob.token } });
const bad = await api.POST("/messages", { ...asAlice, body: { chat_id: chat.data.id, text: "   " } });

export function mustNotCompile(): void {
  // @ts-expect-error chat_id is a number
  void api.POST("/messages", { body: { chat_id: "1", text: "x" } });
  // @ts-expect-error no such path
  void api.GET("/nope");
}

console.log(JSON.stringify({
  status: sent.response.status,
  text: message.text,
  seenByBob: (history.data ?? []).some((m) => m.id === message.id),
  badStatus: bad.response.status,
  badDetail: bad.error?.detail,
}));
`;

let server: TestServer;
let work: string;
beforeAll(async () => {
  server = await startTestServer({ env: { REQUIRE_EMAIL_VERIFICATION: "false" } });
  work = mkdtempSync(join(tmpdir(), "parley-openapi-client-"));
});
afterAll(async () => {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
});

test(
  "openapi-typescript + openapi-fetch: register, log in, send a message",
  async () => {
    // openapi-typescript lives in client-sdk (it needs the TypeScript 5 API; the root has TypeScript 7).
    const gen = Bun.spawn(["bun", join(root, "client-sdk", "scripts", "openapi-types.ts"), `${server.url}/api/v1/openapi.json`, join(work, "schema.d.ts")], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const [genErr, genCode] = await Promise.all([new Response(gen.stderr).text(), gen.exited]);
    expect(genCode, genErr).toBe(0);
    writeFileSync(join(work, "consumer.ts"), CONSUMER);
    writeFileSync(join(work, "package.json"), JSON.stringify({ name: "generated-consumer", private: true, type: "module" }));
    mkdirSync(join(work, "node_modules"));
    symlinkSync(join(root, "node_modules", "openapi-fetch"), join(work, "node_modules", "openapi-fetch"));
    writeFileSync(
      join(work, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { target: "ES2022", module: "ESNext", moduleResolution: "bundler", lib: ["ES2023", "DOM"], types: [], strict: true, noEmit: true, skipLibCheck: true },
        files: ["consumer.ts"],
      }),
    );
    const tsc = Bun.spawn([join(root, "node_modules", ".bin", "tsc"), "-p", join(work, "tsconfig.json")], { cwd: work, stdout: "pipe", stderr: "pipe" });
    const [tscOut, tscCode] = await Promise.all([new Response(tsc.stdout).text(), tsc.exited]);
    expect(tscOut).toBe("");
    expect(tscCode).toBe(0);

    const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const run = Bun.spawn(["bun", "consumer.ts"], { cwd: work, env: { ...process.env, PARLEY_URL: server.url, PARLEY_TAG: tag }, stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited]);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout.trim())).toEqual({
      status: 201,
      text: "sent by a generated client",
      seenByBob: true,
      badStatus: 422,
      badDetail: "text: must not be empty",
    });
  },
  { timeout: 180_000 },
);
