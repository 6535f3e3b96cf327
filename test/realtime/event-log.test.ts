/**
 * The event-log writer (src/realtime/event-log.ts, src/db/transact.ts): one statement takes the lock,
 * draws the positions and inserts both logs, and the COMMIT is sent right behind it without waiting
 * for its answer. Positions must still follow emission order, and a failing events statement must
 * roll the whole transaction back and surface as the transaction's error.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { queryRows } from "../../src/db/client";
import { notifications } from "../../src/db/schema";
import { transact } from "../../src/db/transact";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";

let server: TestServer;
let alice: TestUser;
let bob: TestUser;
let group: number;

beforeAll(async () => {
  server = await startTestServer();
  [alice, bob] = await Promise.all([createUser(server), createUser(server)]);
  const r = await client(server.url).post("/chats", { token: alice.token, body: { type: "group", title: "event log", member_ids: [bob.id] } });
  group = r.body.id;
}, 180_000);

afterAll(() => server.stop());

interface Logged {
  seq: string | number;
  n: string | number;
  kind: string;
}

test("positions are contiguous and follow emission order across chat and user events", async () => {
  const mark = `order-${Date.now()}`;
  await transact(server.app, async (_tx, events) => {
    events.toUser(bob.id, "notification", { mark, n: 1 });
    events.toChat(group, "message_deleted", { mark, n: 2, chat_id: group, message_id: 0 });
    events.toUser(alice.id, "notification", { mark, n: 3 });
    events.toChat(group, "message_deleted", { mark, n: 4, chat_id: group, message_id: 0 });
    events.toUser(bob.id, "notification", { mark, n: 5 });
  });
  const rows = await queryRows<Logged>(
    server.app.db,
    sql`select seq, data->>'n' as n, 'chat' as kind from chat_events where data->>'mark' = ${mark}
        union all select seq, data->>'n' as n, 'user' as kind from user_events where data->>'mark' = ${mark}
        order by seq`,
  );
  expect(rows.map((r) => [Number(r.n), r.kind])).toEqual([
    [1, "user"],
    [2, "chat"],
    [3, "user"],
    [4, "chat"],
    [5, "user"],
  ]);
  const seqs = rows.map((r) => Number(r.seq));
  expect(seqs).toEqual(seqs.map((_, i) => (seqs[0] ?? 0) + i));
});

test("a failing events statement rolls the transaction back and is its error", async () => {
  const count = async () =>
    (await server.app.db.select({ id: notifications.id }).from(notifications).where(eq(notifications.userId, bob.id))).length;
  const before = await count();
  const failing = transact(server.app, async (tx, events) => {
    await tx.insert(notifications).values({ userId: bob.id, eventType: "mention", payload: "{}" });
    // jsonb cannot store U+0000: the events statement fails after the business write succeeded.
    events.toUser(bob.id, "notification", { text: "nul \u0000 inside" });
    return "done";
  });
  await expect(failing).rejects.toThrow(/unicode|\\u0000/i);
  expect(await count()).toBe(before);
  // The connection is usable again, and the next transaction commits.
  const ok = await transact(server.app, async (tx, events) => {
    await tx.insert(notifications).values({ userId: bob.id, eventType: "mention", payload: "{}" });
    events.toUser(bob.id, "notification", { text: "fine" });
    return "done";
  });
  expect(ok).toBe("done");
  expect(await count()).toBe(before + 1);
});
