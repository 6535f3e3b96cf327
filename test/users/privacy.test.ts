/**
 * CONTRACT §4 / reference §3.7: what a viewer sees of a subject under each privacy level, for a
 * viewer in the subject's contacts and one outside them, on every read path that shows users; and
 * that a user who blocked someone cannot be reached by them through private chats or group invites.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { users, type PrivacyLevel } from "../../src/db/schema";
import { userCardsFor } from "../../src/routers/users/service";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { upload } from "../media/support";

let server: TestServer;
let http: ReturnType<typeof client>;
let subject: TestUser;
let contact: TestUser;
let stranger: TestUser;
let contactChatId: number;
let strangerChatId: number;

const AVATAR = "https://cdn.example.com/subject.png";
const LAST_SEEN = new Date("2026-03-08T10:00:00.000Z");
const LEVELS: PrivacyLevel[] = ["everyone", "contacts", "nobody"];

async function privateChat(from: TestUser, to: TestUser): Promise<number> {
  const r = await http.post("/chats", { token: from.token, body: { type: "private", member_ids: [to.id] } });
  expect(r.status).toBe(200);
  return r.body.id;
}

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  subject = await createUser(server, { name: "Privacy Subject" });
  contact = await createUser(server);
  stranger = await createUser(server);
  expect((await http.post(`/users/${contact.id}/contacts`, { token: subject.token })).status).toBe(204);
  // The reverse direction must not count: the stranger lists the subject, not the other way round.
  expect((await http.post(`/users/${subject.id}/contacts`, { token: stranger.token })).status).toBe(204);
  expect((await http.put("/users/profile", { token: subject.token, body: { avatar_url: AVATAR } })).status).toBe(200);
  await server.app.db.update(users).set({ lastSeenAt: LAST_SEEN }).where(eq(users.id, subject.id));
  contactChatId = await privateChat(contact, subject);
  strangerChatId = await privateChat(stranger, subject);
}, 180_000);
afterAll(() => server.stop());

const setPrivacy = async (who: TestUser, body: Record<string, PrivacyLevel>) =>
  expect((await http.put("/users/profile", { token: who.token, body })).status).toBe(200);

/** Whether `level` lets a viewer in (true) or out of (false) the subject's contacts see. */
const expectedFor = (level: PrivacyLevel, inContacts: boolean) => level === "everyone" || (level === "contacts" && inContacts);

describe("privacy_avatar", () => {
  for (const level of LEVELS) {
    test(`${level}: profile, search, contacts list and private chat follow it`, async () => {
      await setPrivacy(subject, { privacy_avatar: level });
      // The subject always sees their own avatar.
      expect((await http.get("/users/me", { token: subject.token })).body.avatar_url).toBe(AVATAR);
      for (const [viewer, inContacts, chatId] of [
        [contact, true, contactChatId],
        [stranger, false, strangerChatId],
      ] as const) {
        const want = expectedFor(level, inContacts) ? AVATAR : null;
        expect((await http.get(`/users/${subject.id}`, { token: viewer.token })).body.avatar_url).toBe(want);
        const found = (await http.get(`/users/search?query=${subject.username}`, { token: viewer.token })).body;
        expect(found[0]).toMatchObject({ id: subject.id, avatar_url: want });
        const chat = (await http.get(`/chats/${chatId}`, { token: viewer.token })).body;
        expect(chat.counterpart_user_id).toBe(subject.id);
        expect(chat.counterpart_avatar_url).toBe(want);
        const cards = await userCardsFor(server.app.db, viewer.id, [subject.id]);
        expect(cards.get(subject.id)?.summary.avatar_url).toBe(want);
      }
      // The stranger keeps the subject in their own contacts list; it shows the same.
      const listed = (await http.get("/users/contacts", { token: stranger.token })).body;
      expect(listed).toEqual([expect.objectContaining({ id: subject.id, avatar_url: expectedFor(level, false) ? AVATAR : null })]);
    });
  }
});

describe("privacy_last_seen", () => {
  for (const level of LEVELS) {
    test(`${level}: private-chat presence fields and presence fan-out follow it`, async () => {
      await setPrivacy(subject, { privacy_last_seen: level });
      for (const [viewer, inContacts, chatId] of [
        [contact, true, contactChatId],
        [stranger, false, strangerChatId],
      ] as const) {
        const visible = expectedFor(level, inContacts);
        const chat = (await http.get(`/chats/${chatId}`, { token: viewer.token })).body;
        expect(chat.counterpart_last_seen_at).toBe(visible ? LAST_SEEN.toISOString() : null);
        expect(chat.counterpart_is_online).toBe(visible ? false : null);
        const card = (await userCardsFor(server.app.db, viewer.id, [subject.id])).get(subject.id);
        expect(card?.canSeePresence).toBe(visible);
        expect(card?.lastSeenAt?.toISOString() ?? null).toBe(visible ? LAST_SEEN.toISOString() : null);
      }
    });
  }
});

describe("privacy_group_invites", () => {
  for (const level of LEVELS) {
    test(`${level}: creating a group with the subject and adding them follow it`, async () => {
      await setPrivacy(subject, { privacy_group_invites: level });
      for (const [viewer, inContacts] of [
        [contact, true],
        [stranger, false],
      ] as const) {
        const allowed = expectedFor(level, inContacts);
        const created = await http.post("/chats", { token: viewer.token, body: { type: "group", title: `G ${level}`, member_ids: [subject.id] } });
        expect(created.status).toBe(allowed ? 200 : 403);
        const group = await http.post("/chats", { token: viewer.token, body: { type: "group", title: `H ${level}`, member_ids: [] } });
        expect(group.status).toBe(200);
        const added = await http.post(`/chats/${group.body.id}/members`, { token: viewer.token, body: { user_id: subject.id } });
        expect(added.status).toBe(allowed ? 201 : 403);
      }
    });
  }
});

describe("blocks close every way in", () => {
  test("a blocked user cannot open a private chat, message, or add the blocker to groups; unblock reopens", async () => {
    const blocker = await createUser(server);
    const blocked = await createUser(server);
    const existing = await privateChat(blocker, blocked);
    expect((await http.post(`/users/${blocked.id}/block`, { token: blocker.token })).status).toBe(204);

    // No private chat with a blocker who has none with them yet.
    const shy = await createUser(server);
    expect((await http.post(`/users/${blocked.id}/block`, { token: shy.token })).status).toBe(204);
    expect((await http.post("/chats", { token: blocked.token, body: { type: "private", member_ids: [shy.id] } })).status).toBe(403);
    // An existing private chat stays visible but refuses their messages.
    expect((await http.post("/messages", { token: blocked.token, body: { chat_id: existing, type: "text", text: "hi" } })).status).toBe(403);
    expect((await http.post("/chats", { token: blocked.token, body: { type: "group", title: "No", member_ids: [blocker.id] } })).status).toBe(403);
    const group = await http.post("/chats", { token: blocked.token, body: { type: "group", title: "Mine", member_ids: [] } });
    expect((await http.post(`/chats/${group.body.id}/members`, { token: blocked.token, body: { user_id: blocker.id } })).status).toBe(403);

    // The blocker shows the blocked user no avatar and no presence, whatever their settings.
    await setPrivacy(blocker, { privacy_avatar: "everyone", privacy_last_seen: "everyone" });
    await http.put("/users/profile", { token: blocker.token, body: { avatar_url: AVATAR } });
    expect((await http.get(`/users/${blocker.id}`, { token: blocked.token })).body.avatar_url).toBeNull();
    expect((await http.get(`/chats/${existing}`, { token: blocked.token })).body.counterpart_last_seen_at).toBeNull();
    // The block is one-directional: the blocker still sees the blocked user.
    expect((await http.get(`/users/${blocked.id}`, { token: blocker.token })).status).toBe(200);

    expect((await http.delete(`/users/${blocked.id}/block`, { token: blocker.token })).status).toBe(204);
    expect((await http.post("/messages", { token: blocked.token, body: { chat_id: existing, type: "text", text: "hi again" } })).status).toBe(201);
    expect((await http.post(`/chats/${group.body.id}/members`, { token: blocked.token, body: { user_id: blocker.id } })).status).toBe(201);
    expect((await http.get(`/users/${blocker.id}`, { token: blocked.token })).body.avatar_url).toBe(AVATAR);
  });

  test("a blocked sender cannot edit an earlier message or attach a file to it (both put new content in front of the blocker)", async () => {
    const blocker = await createUser(server);
    const blocked = await createUser(server);
    const chat = await privateChat(blocked, blocker);
    const sent = await http.post("/messages", { token: blocked.token, body: { chat_id: chat, type: "text", text: "before" } });
    expect(sent.status).toBe(201);
    const bytes = new TextEncoder().encode("new content");
    const ticket = await upload(http, blocked, "text/plain", bytes);
    const attach = { message_id: sent.body.id, file_url: ticket.file_url, file_type: "text/plain", file_size: bytes.byteLength };
    expect((await http.post(`/users/${blocked.id}/block`, { token: blocker.token })).status).toBe(204);

    const edit = await http.put(`/messages/${sent.body.id}`, { token: blocked.token, body: { text: "after" } });
    expect(edit.status).toBe(403);
    expect(edit.body.detail).toBe("This user does not accept your messages");
    expect((await http.post("/media/attachments", { token: blocked.token, body: attach })).status).toBe(403);
    const seen = await http.get(`/messages/${chat}`, { token: blocker.token });
    expect(seen.body.map((m: { text: string }) => m.text)).toEqual(["before"]);
    expect((await http.get(`/media/chats/${chat}/attachments`, { token: blocker.token })).body).toEqual([]);

    expect((await http.delete(`/users/${blocked.id}/block`, { token: blocker.token })).status).toBe(204);
    expect((await http.put(`/messages/${sent.body.id}`, { token: blocked.token, body: { text: "after" } })).status).toBe(200);
    expect((await http.post("/media/attachments", { token: blocked.token, body: attach })).status).toBe(200);
  });

  test("allow_private_messages: false admits only the user's contacts", async () => {
    const picky = await createUser(server);
    const friend = await createUser(server);
    const other = await createUser(server);
    await http.post(`/users/${friend.id}/contacts`, { token: picky.token });
    await http.put("/users/profile", { token: picky.token, body: { allow_private_messages: false } });
    expect((await http.get(`/users/${picky.id}`, { token: other.token })).body.allow_private_messages).toBe(false);
    expect((await http.post("/chats", { token: other.token, body: { type: "private", member_ids: [picky.id] } })).status).toBe(403);
    expect((await http.post("/chats", { token: friend.token, body: { type: "private", member_ids: [picky.id] } })).status).toBe(200);
  });
});
