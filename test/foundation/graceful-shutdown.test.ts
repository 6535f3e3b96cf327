/**
 * SIGTERM lets the requests in flight answer: the server stops accepting connections, waits for
 * them, closes WebSockets with 1001, then closes the database and broker and exits 0. Before, every
 * request in flight was reset (ECONNRESET) although on PostgreSQL its transaction committed.
 *
 * The requests are held in flight deterministically: each sends its headers and half its body, and
 * the rest only after the process has logged "shutting down".
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { until } from "../faults/support";
import { BASE_REDIS_URL, createTestDatabase, usingPostgres } from "../helpers/server";
import { WsClient } from "../realtime/ws-client";
import { childEnv, spawnMain, type MainProcess } from "./main-process";

const started: MainProcess[] = [];
const cleanups: (() => Promise<void> | void)[] = [];

afterAll(async () => {
  for (const p of started) p.kill();
  for (const c of cleanups) await c();
});

const uid = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

/** A POST over a raw socket whose body is sent in two halves; `finish()` sends the second one. */
function halfSentPost(baseUrl: string, path: string, body: string) {
  const { hostname, port } = new URL(baseUrl);
  const socket = net.connect(Number(port), hostname);
  let received = "";
  socket.on("data", (d) => (received += d.toString("latin1")));
  // Resolves with the raw response, or the socket error's code (ECONNRESET) when there was none.
  const answer = new Promise<string>((resolve) => {
    socket.on("error", (err: NodeJS.ErrnoException) => resolve(received || `error ${err.code ?? err.message}`));
    socket.on("close", () => resolve(received || "closed without an answer"));
  });
  const bytes = Buffer.from(body);
  const half = Math.floor(bytes.length / 2);
  const head = `POST ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/json\r\nContent-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`;
  const sent = new Promise<void>((resolve) => socket.write(Buffer.concat([Buffer.from(head), bytes.subarray(0, half)]), () => resolve()));
  return { sent, answer, finish: () => socket.write(bytes.subarray(half)) };
}

/** GET on a new connection (fetch might reuse a pooled one); answers the status line. */
async function getOnNewConnection(baseUrl: string, path: string): Promise<string> {
  const { hostname, port } = new URL(baseUrl);
  const socket = net.connect(Number(port), hostname);
  let received = "";
  socket.on("data", (d) => (received += d.toString("latin1")));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n\r\n`);
  await new Promise((resolve) => socket.on("close", resolve));
  return statusOf(received);
}

/** Whether a new TCP connection to the listener is accepted. */
function connects(baseUrl: string): Promise<boolean> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    socket.on("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

const statusOf = (raw: string) => /^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? raw.slice(0, 80);

async function serviceEnv(): Promise<Record<string, string>> {
  if (!usingPostgres) return {};
  const db = await createTestDatabase();
  cleanups.push(db.drop);
  return { DATABASE_URL: db.url, ...(BASE_REDIS_URL ? { REDIS_URL: BASE_REDIS_URL, REDIS_PREFIX: `parley-test:${uid()}:` } : {}) };
}

describe("graceful shutdown", () => {
  test("SIGTERM: requests in flight get their answers and are stored, WebSockets close with 1001, exit 0", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "parley-shutdown-"));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const env = childEnv(dataDir, { REQUIRE_EMAIL_VERIFICATION: "false", ...(await serviceEnv()) });
    const server = spawnMain(env);
    started.push(server);
    const url = await server.listening();

    // A live WebSocket of a registered user.
    const tag = uid();
    const account = { email: `ws_${tag}@example.com`, name: "Ws", username: `ws_${tag}`, password: "password123" };
    expect((await fetch(`${url}/api/v1/auth/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(account) })).status).toBe(201);
    const login = await fetch(`${url}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: account.email, password: account.password }) });
    const { access_token } = (await login.json()) as { access_token: string };
    const socket = await WsClient.connect(url, access_token);

    // Registrations in flight: headers and half the body sent.
    const users = Array.from({ length: 8 }, (_, i) => ({ email: `s${i}_${tag}@example.com`, name: `S${i}`, username: `s${i}_${tag}`, password: "password123" }));
    const posts = users.map((u) => halfSentPost(url, "/api/v1/auth/register", JSON.stringify(u)));
    await Promise.all(posts.map((p) => p.sent));
    // Every connection above was made (and its bytes sent) before this one: the server has them.
    expect(await getOnNewConnection(url, "/health/live")).toBe("200");

    server.proc.kill("SIGTERM");
    await server.waitForLine(/"msg":"shutting down"/);
    // No new connections once stopping (the listener closes right after that line).
    expect(await until(async () => !(await connects(url)), 5000)).toBe(true);
    for (const p of posts) p.finish();
    const answers = await Promise.all(posts.map((p) => p.answer));
    if (answers.some((a) => statusOf(a) !== "201")) console.log(answers, server.lines.join("\n"));
    expect(answers.map(statusOf)).toEqual(users.map(() => "201"));
    expect((await socket.closed).code).toBe(1001);
    expect(await server.exited).toBe(0);

    // What was answered 201 was committed: every one of them can log in after a restart.
    const again = spawnMain(env);
    started.push(again);
    const url2 = await again.listening();
    for (const u of users) {
      const r = await fetch(`${url2}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: u.email, password: u.password }) });
      expect([u.username, r.status]).toEqual([u.username, 200]);
    }
    again.proc.kill("SIGTERM");
    expect(await again.exited).toBe(0);
  });
});
