/**
 * delivery_status follows what members did, never who is a member now: joining reads nothing (a new
 * member's marks start at the newest message only so that nothing is unread), a reader who leaves
 * keeps the message read, and the sender's own marks never count.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { queryRows } from "../../src/db/client";
import { client } from "../helpers/http";
import { startTestServer, usingPostgres, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { markStatus, sendText, type Http } from "./support";

let server: TestServer;
let http: Http;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let dave: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  [alice, bob, carol, dave] = await Promise.all([createUser(server), createUser(server), createUser(server), createUser(server)]);
});
afterAll(() => server.stop());

async function group(owner: TestUser, members: TestUser[], extra: Record<string, unknown> = {}): Promise<number> {
  const r = await http.post("/chats", { token: owner.token, body: { type: "group", title: "receipts", member_ids: members.map((m) => m.id), ...extra } });
  expect(r.status).toBe(200);
  return r.body.id as number;
}

/** id → delivery_status of the chat's history as `viewer` sees it. */
async function statuses(viewer: TestUser, chatId: number): Promise<Record<number, string>> {
  const r = await http.get(`/messages/${chatId}?limit=100`, { token: viewer.token });
  expect(r.status).toBe(200);
  return Object.fromEntries((r.body as { id: number; delivery_status: string }[]).map((m) => [m.id, m.delivery_status]));
}

describe("delivery_status", () => {
  test("a member who is added, or joins a public chat, has read nothing", async () => {
    const chat = await group(alice, [bob]);
    const m = await sendText(http, alice, chat);
    expect((await http.post(`/chats/${chat}/members`, { token: alice.token, body: { user_id: carol.id } })).status).toBe(201);
    expect((await statuses(alice, chat))[m.id]).toBe("sent");
    // The newcomer's history starts read (nothing unread), which is about them, not the sender.
    const list = await http.get("/chats", { token: carol.token });
    expect(list.body.find((c: { id: number }) => c.id === chat)?.unread_count).toBe(0);

    const channel = await http.post("/chats", { token: alice.token, body: { type: "channel", title: "receipts", handle: `rc${Date.now().toString(36)}`, is_public: true } });
    expect(channel.status).toBe(200);
    const post = await sendText(http, alice, channel.body.id);
    expect((await http.post(`/chats/${channel.body.id}/join`, { token: dave.token })).status).toBeLessThan(300);
    expect((await statuses(alice, channel.body.id))[post.id]).toBe("sent");
  });

  test("a message read by a member stays read after that member leaves", async () => {
    const chat = await group(alice, [bob, carol]);
    const m = await sendText(http, alice, chat);
    await markStatus(http, bob, chat, m.id, "message_read");
    expect((await statuses(alice, chat))[m.id]).toBe("read");
    expect((await http.post(`/chats/${chat}/leave`, { token: bob.token })).status).toBe(204);
    expect((await statuses(alice, chat))[m.id]).toBe("read");
    // The same through search, which computes the status per row.
    const found = await http.get(`/messages/search?query=${encodeURIComponent(m.text)}&chat_id=${chat}`, { token: alice.token });
    expect(found.body.map((x: { id: number; delivery_status: string }) => [x.id, x.delivery_status])).toEqual([[m.id, "read"]]);
  });

  test("the furthest other member decides; the sender's own marks never count", async () => {
    const chat = await group(alice, [bob, carol]);
    const [m1, m2, m3] = [await sendText(http, alice, chat), await sendText(http, alice, chat), await sendText(http, alice, chat)];
    await markStatus(http, bob, chat, m2.id, "message_read");
    await markStatus(http, alice, chat, m3.id, "message_read");
    expect(await statuses(carol, chat)).toEqual({ [m1.id]: "read", [m2.id]: "read", [m3.id]: "sent" });
    await markStatus(http, carol, chat, m3.id, "message_delivered");
    expect((await statuses(alice, chat))[m3.id]).toBe("delivered");
    // Bob's message: Alice leads by read mark (m3), so Bob's is judged by her mark, his own not at all.
    const b1 = await sendText(http, bob, chat);
    await markStatus(http, bob, chat, b1.id, "message_read");
    expect((await statuses(alice, chat))[b1.id]).toBe("sent");
    await markStatus(http, alice, chat, b1.id, "message_read");
    expect((await statuses(bob, chat))[b1.id]).toBe("read");
    // Alice now leads; a message of hers is judged by the best other mark (Bob's, at b1).
    const a4 = await sendText(http, alice, chat);
    await markStatus(http, alice, chat, a4.id, "message_read");
    expect((await statuses(bob, chat))[a4.id]).toBe("sent");
    await markStatus(http, carol, chat, a4.id, "message_read");
    expect((await statuses(bob, chat))[a4.id]).toBe("read");
  });

  test.skipIf(!usingPostgres)("concurrent marks by many members leave the leaders their marks give", async () => {
    const members = await Promise.all(Array.from({ length: 12 }, () => createUser(server)));
    const chat = await group(alice, members);
    const sent = [] as number[];
    for (let i = 0; i < 8; i++) sent.push((await sendText(http, alice, chat)).id);
    await Promise.all(
      members.flatMap((u, i) =>
        [0, 1, 2].map((k) => markStatus(http, u, chat, sent[(i * 3 + k * 5) % sent.length] as number, (i + k) % 3 === 0 ? "message_delivered" : "message_read")),
      ),
    );
    const [stored] = await queryRows<Record<string, unknown>>(server.app.db, sql`select read_mark, read_second, delivered_mark, delivered_second from chat_receipts where chat_id = ${chat}`);
    const top = async (column: string) =>
      (await queryRows<{ m: string | number }>(server.app.db, sql`select ${sql.raw(column)} as m from chat_members where chat_id = ${chat} order by 1 desc limit 2`)).map((r) => Number(r.m));
    const [r1, r2] = await top("last_read_message_id");
    const [d1, d2] = await top("last_delivered_message_id");
    expect([stored?.read_mark, stored?.read_second, stored?.delivered_mark, stored?.delivered_second].map(Number)).toEqual([r1, r2, d1, d2] as number[]);
  });
});
