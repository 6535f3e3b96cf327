/**
 * The chat list costs a fixed number of queries whatever the page size or the number of chats
 * (no N+1). Chats are inserted directly (fixtures): the subject here is the read path.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { AsyncLocalStorage } from "node:async_hooks";
import { listChats } from "../../src/routers/chats/service";
import { insertChat, insertMessage } from "../helpers/fixtures";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";

let server: TestServer;
let viewer: TestUser;
let other: TestUser;
const CHATS = 150;

beforeAll(async () => {
  server = await startTestServer();
  [viewer, other] = await Promise.all([createUser(server), createUser(server)]);
  for (let i = 0; i < CHATS; i++) {
    const type = i % 3 === 0 ? "private" : i % 3 === 1 ? "group" : "channel";
    const chatId = await insertChat(server, { type, ownerId: viewer.id, memberIds: [other.id], title: `Scale ${i}` });
    if (i % 2 === 0) await insertMessage(server, { chatId, senderId: other.id, text: `m${i}` });
  }
});
afterAll(() => server.stop());

/**
 * Runs `fn` counting the statements it sends through app.db.execute (every raw read path). Only
 * statements issued from inside `fn` count (AsyncLocalStorage): background work of the server
 * (event-log tailers) shares app.db.
 */
const counting = new AsyncLocalStorage<{ queries: number }>();
async function countQueries<T>(fn: () => Promise<T>): Promise<{ result: T; queries: number }> {
  const db = server.app.db;
  const original = db.execute.bind(db);
  const counter = { queries: 0 };
  db.execute = ((query: Parameters<typeof original>[0]) => {
    const active = counting.getStore();
    if (active) active.queries += 1;
    return original(query);
  }) as typeof db.execute;
  try {
    return { result: await counting.run(counter, fn), queries: counter.queries };
  } finally {
    db.execute = original as typeof db.execute;
  }
}

test("one page costs the same number of queries for 5 chats and for 100", async () => {
  const small = await countQueries(() => listChats(server.app, viewer.id, { limit: 5, archived: false }));
  const large = await countQueries(() => listChats(server.app, viewer.id, { limit: 100, archived: false }));
  expect(small.result.length).toBe(5);
  expect(large.result.length).toBe(100);
  expect(large.queries).toBe(small.queries);
  // The page of ids and its read model are one statement; the counterparts' last_seen_at
  // one more, read after presence (nobody is online here).
  expect(small.result.some((c) => c.type === "private")).toBe(true);
  expect(small.queries).toBe(2);
  expect(small.queries).toBeGreaterThan(0);
  expect(large.queries).toBeLessThanOrEqual(6);
});

test("paging through 150 chats visits each once, with unread counts and counterparts filled in", async () => {
  const seen: number[] = [];
  let before: number | undefined;
  for (;;) {
    const page = await listChats(server.app, viewer.id, { limit: 100, before_id: before, archived: false });
    if (page.length === 0) break;
    seen.push(...page.map((c) => c.id));
    before = page[page.length - 1]?.id;
  }
  expect(seen.length).toBe(CHATS);
  expect(new Set(seen).size).toBe(CHATS);
  const all = await listChats(server.app, viewer.id, { limit: 100, archived: false });
  const withMessage = all.filter((c) => c.last_message_text !== null);
  expect(withMessage.every((c) => c.unread_count === 1)).toBe(true);
  const privates = all.filter((c) => c.type === "private");
  expect(privates.every((c) => c.counterpart_user_id === other.id && c.display_title === other.name)).toBe(true);
});
