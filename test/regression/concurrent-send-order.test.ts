/**
 * Regression (test/load delivery order): concurrent sends to one chat must reach sockets in
 * message-id order. A message's id is drawn at insert, its event position at commit (under the log
 * lock), and the chat row was locked only after the insert, so a send that inserted later could
 * commit first: live order and /sync order disagreed with history order (ids 11 then 10).
 * Needs PostgreSQL: PGlite runs one transaction at a time.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { api } from "../helpers/http";
import { startTestServer, usingPostgres, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { WsClient } from "../realtime/ws-client";

let server: TestServer | undefined;
let members: TestUser[] = [];

beforeAll(async () => {
  if (!usingPostgres) return;
  server = await startTestServer();
  const s = server;
  members = await Promise.all(Array.from({ length: 5 }, () => createUser(s)));
}, 60_000);
afterAll(() => server?.stop());

test.skipIf(!usingPostgres)("concurrent sends to one chat arrive in message-id order, live and in /sync", async () => {
  if (!server) throw new Error("no server");
  const url = server.url;
  const [owner, ...rest] = members;
  if (!owner) throw new Error("users");
  const chat = await api<{ id: number }>(url, "POST", "/chats", { token: owner.token, body: { type: "group", title: "order", member_ids: rest.map((u) => u.id) } });
  expect(chat.status).toBe(200);
  const watcher = await WsClient.connect(url, owner.token);
  const since = Number((await watcher.waitFor((f) => f.type === "ready")).data.seq);

  const ids: number[] = [];
  for (let wave = 0; wave < 10; wave++) {
    const sent = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        api<{ id: number }>(url, "POST", "/messages", {
          token: (members[i % members.length] ?? owner).token,
          body: { chat_id: chat.body.id, type: "text", text: `w${wave} m${i}` },
        }),
      ),
    );
    for (const r of sent) {
      expect(r.status).toBe(201);
      ids.push(r.body.id);
    }
  }
  const last = Math.max(...ids);
  await watcher.waitFor((f) => f.type === "message_created" && f.data.message.id === last, 20_000);
  const allIn = () => ids.every((id) => watcher.frames.some((f) => f.type === "message_created" && f.data.message.id === id));
  if (!allIn()) await watcher.waitFor(() => allIn(), 20_000, watcher.frames.length);

  const live = watcher.frames.filter((f) => f.type === "message_created").map((f) => Number(f.data.message.id));
  expect(live.length).toBe(ids.length);
  expect(live).toEqual([...live].sort((a, b) => a - b));

  const synced: number[] = [];
  for (let at = since, more = true, pages = 0; more && pages < 50; pages++) {
    const page = await api<{ events: { type: string; data: { message?: { id: number } } }[]; next_since: number; has_more: boolean }>(
      url,
      "GET",
      `/sync?since=${at}&limit=100`,
      { token: owner.token },
    );
    for (const e of page.body.events) if (e.type === "message_created" && e.data.message) synced.push(e.data.message.id);
    at = page.body.next_since;
    more = page.body.has_more;
  }
  expect(synced).toEqual(live);
  await watcher.close();
}, 120_000);
