/**
 * Regression: PostgreSQL ending the server's connections while requests are in flight (a restart,
 * `pg_terminate_backend`, a proxy cutting links). postgres.js 3.4.9 under Bun: a connection reset
 * with writes in flight never connected again (a write still buffered for the dead socket kept the
 * startup message of every later attempt unsent, so each attempt timed out and the pool lost that
 * connection for good), a query written between the reset and the close never settled (its request
 * hung), and the old session's FATAL error failed the next session's first query.
 * patches/postgres@3.4.9.patch fixes the three; transactions learn that their reserved connection
 * closed (src/db/pipelined-transaction.ts). PostgreSQL pass only.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import { api } from "../helpers/http";
import { BASE_DATABASE_URL, startTestServer, usingPostgres, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";

let server: TestServer | undefined;
let alice: TestUser;
let bob: TestUser;
let chatId: number;

beforeAll(async () => {
  if (!usingPostgres) return;
  server = await startTestServer();
  [alice, bob] = await Promise.all([createUser(server), createUser(server)]);
  const created = await api<{ id: number }>(server.url, "POST", "/chats", { token: alice.token, body: { type: "group", title: "cut", member_ids: [bob.id] } });
  chatId = created.body.id;
}, 60_000);

afterAll(async () => {
  await server?.stop();
}, 30_000);

/** One request of the load: a send (a transaction) or a chat list (plain reads). */
async function request(i: number): Promise<number> {
  if (!server) throw new Error("no server");
  const user = i % 2 === 0 ? alice : bob;
  const r =
    i % 3 === 0
      ? await api(server.url, "GET", "/chats", { token: user.token, timeoutMs: 15_000 })
      : await api(server.url, "POST", "/messages", { token: user.token, body: { chat_id: chatId, type: "text", text: `under cuts ${i}` }, timeoutMs: 15_000 });
  return r.status;
}

test.skipIf(!usingPostgres)("connections terminated under load: no request hangs, and the server answers again within seconds", async () => {
  if (!server?.env.DATABASE_URL || !BASE_DATABASE_URL) throw new Error("no database");
  const database = new URL(server.env.DATABASE_URL).pathname.slice(1);
  const admin = postgres(BASE_DATABASE_URL, { max: 1, onnotice: () => {} });
  const during: number[] = [];
  let cutting = true;
  let n = 0;
  try {
    const load = Promise.all(
      Array.from({ length: 12 }, async () => {
        while (cutting) during.push(await request(n++).catch(() => -1));
      }),
    );
    for (let round = 0; round < 6; round++) {
      await Bun.sleep(250);
      await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${database} and pid <> pg_backend_pid()`;
    }
    cutting = false;
    await load;
  } finally {
    await admin.end({ timeout: 5 });
  }
  // While the connections were cut: answers (503 when a request met a dead connection), none hung
  // until the client gave up (-1).
  expect(during.filter((s) => s === -1)).toEqual([]);
  expect(during.filter((s) => s >= 500 && s !== 503)).toEqual([]);

  // Afterwards every connection of the pool serves again: 48 parallel requests all succeed once the
  // pool's first answer comes back (within 5 s).
  const deadline = Date.now() + 5000;
  while ((await request(n++)) >= 500 && Date.now() < deadline) await Bun.sleep(100);
  const after = await Promise.all(Array.from({ length: 48 }, () => request(n++)));
  expect(after.filter((s) => s >= 300)).toEqual([]);
}, 90_000);
