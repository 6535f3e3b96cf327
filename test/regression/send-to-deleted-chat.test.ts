/**
 * Regression: a send whose chat is deleted while it waits for the chat row answered 500 (the
 * message insert hit the foreign key after the row lock found nothing). It answers 404, like any
 * send to a chat that does not exist, and writes nothing.
 * Needs PostgreSQL: PGlite runs one transaction at a time, so the send cannot wait on the delete.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { queryRows } from "../../src/db/client";
import { chats, messages } from "../../src/db/schema";
import { api } from "../helpers/http";
import { startTestServer, usingPostgres, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";

let server: TestServer | undefined;
let owner: TestUser;
let member: TestUser;

beforeAll(async () => {
  if (!usingPostgres) return;
  server = await startTestServer();
  const s = server;
  [owner, member] = await Promise.all([createUser(s), createUser(s)]);
}, 60_000);
afterAll(() => server?.stop());

test.skipIf(!usingPostgres)("a send racing the deletion of its chat answers 404 and writes nothing", async () => {
  if (!server) throw new Error("no server");
  const app = server.app;
  const chat = await api<{ id: number }>(server.url, "POST", "/chats", { token: owner.token, body: { type: "group", title: "doomed", member_ids: [member.id] } });
  expect(chat.status).toBe(200);
  const chatId = chat.body.id;

  // The deletion holds the chat row (uncommitted) while the send passes its checks and waits for it.
  let release = () => {};
  const gate = new Promise<void>((r) => (release = r));
  let deleted = () => {};
  const rowHeld = new Promise<void>((r) => (deleted = r));
  const deletion = app.db.transaction(async (tx) => {
    await tx.delete(chats).where(eq(chats.id, chatId));
    deleted();
    await gate;
  });
  await rowHeld;
  const send = api<{ detail?: string }>(server.url, "POST", "/messages", { token: member.token, body: { chat_id: chatId, type: "text", text: "too late" } });
  for (let i = 0; ; i++) {
    const waiting = await queryRows<{ n: string | number }>(app.db, sql`select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`);
    if (Number(waiting[0]?.n) >= 1) break;
    if (i > 500) throw new Error("the send never waited for the chat row");
    await Bun.sleep(10);
  }
  release();
  await deletion;
  const answer = await send;
  expect(answer.status).toBe(404);
  expect(answer.body.detail).toBe("Chat not found");
  expect(await app.db.select().from(messages).where(eq(messages.chatId, chatId))).toEqual([]);
});
