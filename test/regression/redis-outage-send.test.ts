/**
 * Regression (test/faults): with the message rate limit and the duplicate cooldown on, killing
 * Redis made every send answer 503 although nothing of a send needs Redis (the event log is in
 * PostgreSQL, tailers poll). Decided: those two checks fail open, the auth limits fail closed
 * (docs/reliability.md "Faults"). Runs in the PostgreSQL pass only, on a private Redis.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { api } from "../helpers/http";
import { startPrivateRedis, type PrivateRedis } from "../helpers/private-services";
import { startTestServer, usingPostgres, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";

const enabled = usingPostgres && Bun.which("redis-server") !== null;

let redis: PrivateRedis | undefined;
let server: TestServer | undefined;
let user: TestUser;
let chatId = 0;

beforeAll(async () => {
  if (!enabled) return;
  redis = await startPrivateRedis();
  server = await startTestServer({
    env: { REDIS_URL: redis.url, MESSAGE_RATE_LIMIT_PER_MINUTE: "1000", DUPLICATE_MESSAGE_COOLDOWN_SECONDS: "10", LOGIN_RATE_LIMIT_PER_MINUTE: "1000" },
  });
  user = await createUser(server);
  const chat = await api<{ id: number }>(server.url, "POST", "/chats", { token: user.token, body: { type: "group", title: "redis outage", member_ids: [] } });
  chatId = chat.body.id;
}, 60_000);

afterAll(async () => {
  await server?.stop().catch(() => {});
  await redis?.destroy();
}, 30_000);

test.skipIf(!enabled)("Redis down: sends succeed, login fails closed (503)", async () => {
  if (!server || !redis) throw new Error("not started");
  const send = (text: string) => api<{ id?: number; detail?: string }>(server?.url ?? "", "POST", "/messages", { token: user.token, body: { chat_id: chatId, type: "text", text } });
  expect((await send("before")).status).toBe(201);
  await redis.kill();
  try {
    const during = await send("during");
    expect(during.status).toBe(201);
    const login = await api<{ detail?: string }>(server.url, "POST", "/auth/login", { body: { email: user.email, password: user.password } });
    expect(login.status).toBe(503);
    expect(typeof login.body.detail).toBe("string");
  } finally {
    await redis.start();
  }
  expect((await send("after")).status).toBe(201);
}, 60_000);
