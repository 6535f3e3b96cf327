/**
 * Regression: with a B-tree on messages.id alone, PostgreSQL answered a history page by walking
 * every chat's messages in id order and filtering by chat (131 ms on the 1M-message benchmark,
 * instead of 2.5 ms). The id index is now a hash index: lookups by id stay one step, ordered reads
 * must use the (chat_id, id) primary key. Real PostgreSQL only (PGlite plans the same way but the
 * statistics that trigger it need ANALYZE on real data).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { queryRows } from "../../src/db/client";
import { startTestServer, usingPostgres, type TestServer } from "../helpers/server";
import { insertChat } from "../helpers/fixtures";
import { createUser } from "../helpers/users";

let server: TestServer;

beforeAll(async () => {
  if (usingPostgres) server = await startTestServer();
}, 120_000);
afterAll(async () => {
  if (server) await server.stop();
});

test.skipIf(!usingPostgres)("a history page reads the chat's own index range, newest first", async () => {
  const user = await createUser(server);
  const quiet = await insertChat(server, { ownerId: user.id });
  const busy = await insertChat(server, { ownerId: user.id });
  // Interleaved writes (so chat_id is not physically ordered), then the quiet chat falls silent
  // while the busy one writes on.
  await server.app.db.execute(sql`insert into messages (chat_id, sender_id, type, text)
    select case when g % 2 = 0 then ${quiet}::int else ${busy}::int end, ${user.id}, 'text', 'early ' || g from generate_series(1, 40000) g`);
  await server.app.db.execute(sql`insert into messages (chat_id, sender_id, type, text)
    select ${busy}, ${user.id}, 'text', 'late ' || g from generate_series(1, 60000) g`);
  await server.app.db.execute(sql`analyze messages`);
  const plan = await queryRows<{ "QUERY PLAN": unknown }>(
    server.app.db,
    sql`explain (format json) select * from messages
        where chat_id = ${quiet} and deleted_at is null and id > 0
          and not exists (select 1 from message_hides h where h.chat_id = messages.chat_id and h.user_id = ${user.id} and h.message_id = messages.id)
        order by id desc limit 50`,
  );
  const text = JSON.stringify(plan);
  expect(text).toContain("messages_chat_id_id_pk");
  expect(text).not.toContain('"Index Name":"messages_id_idx"');
  // And the page itself is right: the quiet chat's 50 newest.
  const r = await fetch(`${server.url}/api/v1/messages/${quiet}?limit=50`, { headers: { authorization: `Bearer ${user.token}` } });
  const page = (await r.json()) as { text: string }[];
  expect(page).toHaveLength(50);
  expect(page[0]?.text).toBe("early 40000");
}, 120_000);
