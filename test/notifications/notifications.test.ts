import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import { notifications, userEvents, users } from "../../src/db/schema";
import { NOTIFY_EVERY_MEMBER_UP_TO } from "../../src/routers/messages/compose";
import { insertChat } from "../helpers/fixtures";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { chatOf, sendText, setMuted, type Http } from "../messages/support";

let server: TestServer;
let http: Http;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  [alice, bob, carol] = await Promise.all([createUser(server), createUser(server), createUser(server)]);
});
afterAll(() => server.stop());

interface Note {
  id: number;
  user_id: number;
  event_type: string;
  payload: string;
  created_at: string;
}

const notesOf = async (u: TestUser, query = ""): Promise<Note[]> => {
  const r = await http.get(`/notifications${query}`, { token: u.token });
  expect(r.status).toBe(200);
  return r.body;
};
const aboutMessage = (notes: Note[], messageId: number) => notes.filter((n) => JSON.parse(n.payload).message_id === messageId);

describe("notifications from messages", () => {
  test("a private message notifies the recipient (message_created), not the sender", async () => {
    const chat = await chatOf(server, "private", alice, [bob]);
    const m = await sendText(http, alice, chat);
    const [note] = aboutMessage(await notesOf(bob), m.id);
    expect(note).toMatchObject({ user_id: bob.id, event_type: "message_created" });
    expect(JSON.parse(note?.payload ?? "{}")).toEqual({ chat_id: chat, message_id: m.id, sender_id: alice.id });
    expect(note?.created_at).toMatch(/Z$/);
    expect(aboutMessage(await notesOf(alice), m.id)).toEqual([]);
    // The same notification is in the recipient's event stream.
    const events = await server.app.db.select().from(userEvents).where(and(eq(userEvents.userId, bob.id), eq(userEvents.type, "notification")));
    expect(events.map((e) => (e.data.notification as Note).id)).toContain(note?.id ?? -1);
  });

  test("muted chats get no message_created, but mentions arrive even there", async () => {
    const chat = await chatOf(server, "group", alice, [bob, carol]);
    await setMuted(server, chat, bob, true);
    await setMuted(server, chat, carol, true);
    const plain = await sendText(http, alice, chat);
    expect(aboutMessage(await notesOf(bob), plain.id)).toEqual([]);
    const mention = await sendText(http, alice, chat, `ping @${bob.username}`);
    expect(aboutMessage(await notesOf(bob), mention.id).map((n) => n.event_type)).toEqual(["mention"]);
    expect(aboutMessage(await notesOf(carol), mention.id)).toEqual([]);
  });

  test("a mentioned member of an unmuted group gets one mention, others message_created", async () => {
    const chat = await chatOf(server, "group", alice, [bob, carol]);
    const m = await sendText(http, alice, chat, `@${carol.username} look`);
    expect(aboutMessage(await notesOf(carol), m.id).map((n) => n.event_type)).toEqual(["mention"]);
    expect(aboutMessage(await notesOf(bob), m.id).map((n) => n.event_type)).toEqual(["message_created"]);
  });

  test("an edit that adds a mention notifies the newly mentioned member once", async () => {
    const chat = await chatOf(server, "group", alice, [bob, carol]);
    await setMuted(server, chat, carol, true);
    const m = await sendText(http, alice, chat, "draft");
    await http.put(`/messages/${m.id}`, { token: alice.token, body: { text: `now with @${carol.username}` } });
    await http.put(`/messages/${m.id}`, { token: alice.token, body: { text: `still @${carol.username}!` } });
    expect(aboutMessage(await notesOf(carol), m.id).map((n) => n.event_type)).toEqual(["mention"]);
  });

  test("an edit mentions nobody who cannot see the message (deleted it for themself, cleared past it)", async () => {
    const chat = await chatOf(server, "group", alice, [bob, carol]);
    const m = await sendText(http, alice, chat, "plain");
    expect((await http.delete(`/messages/${m.id}?for_all=false`, { token: bob.token })).status).toBe(204);
    expect((await http.post(`/chats/${chat}/clear`, { token: carol.token })).status).toBe(204);
    await http.put(`/messages/${m.id}`, { token: alice.token, body: { text: `hey @${bob.username} @${carol.username}` } });
    expect(aboutMessage(await notesOf(bob), m.id).filter((n) => n.event_type === "mention")).toEqual([]);
    expect(aboutMessage(await notesOf(carol), m.id).filter((n) => n.event_type === "mention")).toEqual([]);
  });

  test("channels and big groups store no message_created rows per member; mentions still do", async () => {
    const channel = await chatOf(server, "channel", alice, [bob, carol]);
    const post = await sendText(http, alice, channel, `news for @${carol.username}`);
    expect(aboutMessage(await notesOf(bob), post.id)).toEqual([]);
    expect(aboutMessage(await notesOf(carol), post.id).map((n) => n.event_type)).toEqual(["mention"]);

    const crowd = await server.app.db
      .insert(users)
      .values(
        Array.from({ length: NOTIFY_EVERY_MEMBER_UP_TO }, (_, i) => ({
          email: `crowd${i}-${Date.now()}@example.com`,
          name: `Crowd ${i}`,
          username: `crowd_${i}_${Date.now().toString(36)}`,
          passwordHash: "x",
        })),
      )
      .returning({ id: users.id });
    const big = await insertChat(server, { type: "group", ownerId: alice.id, memberIds: [bob.id, carol.id, ...crowd.map((c) => c.id)] });
    const m = await sendText(http, alice, big, `hello crowd and @${carol.username}`);
    const rows = await server.app.db.select().from(notifications);
    const forMessage = rows.filter((n) => JSON.parse(n.payload).message_id === m.id);
    expect(forMessage.map((n) => [n.userId, n.eventType])).toEqual([[carol.id, "mention"]]);
  });
});

describe("GET /notifications", () => {
  test("newest first; limit 1..100; before_id continues", async () => {
    const chat = await chatOf(server, "private", carol, [alice]);
    for (let i = 0; i < 4; i++) await sendText(http, carol, chat);
    const all = await notesOf(alice, "?limit=100");
    const idsDesc = all.map((n) => n.id);
    expect(idsDesc).toEqual([...idsDesc].sort((a, b) => b - a));
    const page1 = await notesOf(alice, "?limit=2");
    expect(page1.map((n) => n.id)).toEqual(idsDesc.slice(0, 2));
    const page2 = await notesOf(alice, `?limit=2&before_id=${page1[1]?.id}`);
    expect(page2.map((n) => n.id)).toEqual(idsDesc.slice(2, 4));
    expect(all.every((n) => n.user_id === alice.id)).toBe(true);
    for (const limit of [0, 101]) expect((await http.get(`/notifications?limit=${limit}`, { token: alice.token })).status).toBe(422);
  });

  test("401 without a token", async () => {
    const r = await http.get("/notifications");
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toBe("Bearer");
  });
});
