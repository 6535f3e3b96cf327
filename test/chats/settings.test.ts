import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import { chatEvents, userEvents } from "../../src/db/schema";
import { chatReadsFor } from "../../src/routers/chats/read-model";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import type { TestUser } from "../helpers/users";
import { createGroup, createUsers, createPrivate, type Http, sendText } from "./helpers";

let server: TestServer;
let http: Http;
let owner: TestUser;
let admin: TestUser;
let member: TestUser;
let outsider: TestUser;
let groupId: number;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  [owner, admin, member, outsider] = await createUsers(server, 4);
  groupId = (await createGroup(http, owner, { members: [admin, member] })).id;
  expect((await http.patch(`/chats/${groupId}/members/${admin.id}/role`, { token: owner.token, body: { role: "admin" } })).status).toBe(200);
});
afterAll(() => server.stop());

describe("title and profile", () => {
  test("owner and admins edit; members 403; outsiders 404; blank 422", async () => {
    const r = await http.patch(`/chats/${groupId}/title`, { token: admin.token, body: { title: "Renamed" } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ title: "Renamed", display_title: "Renamed", my_role: "admin" });
    expect((await http.get(`/chats/${groupId}`, { token: member.token })).body.title).toBe("Renamed");
    expect((await http.patch(`/chats/${groupId}/title`, { token: member.token, body: { title: "Mine" } })).status).toBe(403);
    expect((await http.patch(`/chats/${groupId}/title`, { token: outsider.token, body: { title: "Mine" } })).status).toBe(404);
    expect((await http.patch(`/chats/${groupId}/title`, { token: owner.token, body: { title: "  " } })).status).toBe(422);
    expect((await http.patch(`/chats/${groupId}/title`, { token: owner.token, body: { title: "x".repeat(129) } })).status).toBe(422);
  });

  test("profile sets title, description and avatar; null clears", async () => {
    const r = await http.patch(`/chats/${groupId}/profile`, {
      token: owner.token,
      body: { title: "Profiled", description: "About us", avatar_url: "https://cdn.example.com/g.png" },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ title: "Profiled", description: "About us", avatar_url: "https://cdn.example.com/g.png" });
    const cleared = await http.patch(`/chats/${groupId}/profile`, { token: admin.token, body: { description: null } });
    expect(cleared.body).toMatchObject({ title: "Profiled", description: null, avatar_url: "https://cdn.example.com/g.png" });
    expect((await http.patch(`/chats/${groupId}/profile`, { token: member.token, body: { description: "x" } })).status).toBe(403);
  });

  test("a chat's avatar_url must be an http(s) URL, as a user's (422 naming the field)", async () => {
    for (const bad of ["javascript:alert(1)", "", "not a url", "ftp://cdn.example.com/g.png"]) {
      const r = await http.patch(`/chats/${groupId}/profile`, { token: owner.token, body: { avatar_url: bad } });
      expect([bad, r.status, r.body.detail]).toEqual([bad, 422, "avatar_url: must be an http(s) URL"]);
    }
    const cleared = await http.patch(`/chats/${groupId}/profile`, { token: owner.token, body: { avatar_url: null } });
    expect(cleared.status).toBe(200);
    expect(cleared.body.avatar_url).toBeNull();
  });

  test("a private chat has no title or profile (422)", async () => {
    const chat = await createPrivate(http, owner, outsider);
    expect((await http.patch(`/chats/${chat.id}/title`, { token: owner.token, body: { title: "T" } })).status).toBe(422);
    expect((await http.patch(`/chats/${chat.id}/profile`, { token: owner.token, body: { description: "d" } })).status).toBe(422);
  });

  test("a shared change is one chat event, not one per member", async () => {
    await http.patch(`/chats/${groupId}/title`, { token: owner.token, body: { title: "Evented" } });
    const rows = await server.app.db.select().from(chatEvents).where(eq(chatEvents.chatId, groupId));
    const last = rows.sort((a, b) => a.seq - b.seq).at(-1);
    expect(last?.type).toBe("chat_updated");
    expect(last?.data).toMatchObject({ chat_id: groupId, title: "Evented", members_count: 3 });
  });
});

describe("pin message", () => {
  test("owner and admins pin in a group; members 403; null unpins", async () => {
    const msg = await sendText(http, member, groupId, "pin me");
    expect((await http.post(`/chats/${groupId}/pin`, { token: member.token, body: { message_id: msg } })).status).toBe(403);
    const pinned = await http.post(`/chats/${groupId}/pin`, { token: admin.token, body: { message_id: msg } });
    expect(pinned.status).toBe(200);
    expect(pinned.body.pinned_message_id).toBe(msg);
    expect((await http.get(`/chats/${groupId}`, { token: member.token })).body.pinned_message_id).toBe(msg);
    const unpinned = await http.post(`/chats/${groupId}/pin`, { token: owner.token, body: { message_id: null } });
    expect(unpinned.body.pinned_message_id).toBeNull();
  });

  test("a message of another chat, or one the caller cannot see, is 404", async () => {
    const other = await createGroup(http, outsider);
    const foreign = await sendText(http, outsider, other.id, "elsewhere");
    expect((await http.post(`/chats/${groupId}/pin`, { token: owner.token, body: { message_id: foreign } })).status).toBe(404);
    const deleted = await sendText(http, owner, groupId, "gone");
    await http.delete(`/messages/${deleted}?for_all=true`, { token: owner.token });
    expect((await http.post(`/chats/${groupId}/pin`, { token: owner.token, body: { message_id: deleted } })).status).toBe(404);
    expect((await http.post(`/chats/${groupId}/pin`, { token: owner.token, body: { message_id: "x" } })).status).toBe(422);
  });

  test("either member pins in a private chat", async () => {
    const chat = await createPrivate(http, member, outsider);
    const msg = await sendText(http, member, chat.id, "ours");
    const r = await http.post(`/chats/${chat.id}/pin`, { token: outsider.token, body: { message_id: msg } });
    expect(r.status).toBe(200);
    expect(r.body.pinned_message_id).toBe(msg);
  });
});

describe("events and the read model seam", () => {
  test("per-user changes reach only that user, with their own ChatRead", async () => {
    await http.post(`/chats/${groupId}/archive`, { token: member.token });
    const mine = await server.app.db.select().from(userEvents).where(and(eq(userEvents.userId, member.id), eq(userEvents.type, "chat_updated")));
    const last = mine.sort((a, b) => a.seq - b.seq).at(-1);
    expect(last?.data).toMatchObject({ chat: { id: groupId, archived: true, my_role: "member" } });
    const others = await server.app.db.select().from(userEvents).where(eq(userEvents.userId, admin.id));
    expect(others.some((e) => (e.data as { chat?: { archived?: boolean } }).chat?.archived === true)).toBe(false);
    await http.post(`/chats/${groupId}/unarchive`, { token: member.token });
  });

  test("a removed member hears chat_deleted", async () => {
    const g = await createGroup(http, owner, { members: [outsider] });
    await http.delete(`/chats/${g.id}/members/${outsider.id}`, { token: owner.token });
    const rows = await server.app.db.select().from(userEvents).where(and(eq(userEvents.userId, outsider.id), eq(userEvents.type, "chat_deleted")));
    expect(rows.map((r) => r.data)).toContainEqual({ chat_id: g.id });
  });

  test("chatReadsFor keeps the order and leaves out chats the viewer is not in", async () => {
    const a = await createGroup(http, member, { title: "A" });
    const b = await createGroup(http, member, { title: "B" });
    const foreign = await createGroup(http, outsider, { title: "F" });
    const reads = await chatReadsFor(server.app, member.id, [b.id, foreign.id, a.id, groupId]);
    expect(reads.map((r) => r.id)).toEqual([b.id, a.id, groupId]);
    expect(reads[0]?.my_role).toBe("owner");
  });
});
