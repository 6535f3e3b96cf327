import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { chats, notifications } from "../../src/db/schema";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { chatIds, createGroup, createPrivate, createUsers, type Http } from "./helpers";

let server: TestServer;
let http: Http;
let owner: TestUser;
let admin: TestUser;
let admin2: TestUser;
let member: TestUser;
let member2: TestUser;
let outsider: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  [owner, admin, admin2, member, member2, outsider] = await createUsers(server, 6);
});
afterAll(() => server.stop());

/** owner + admin + admin2 + member + member2, roles set through the API. */
async function staffedGroup(): Promise<number> {
  const g = await createGroup(http, owner, { members: [admin, admin2, member, member2] });
  for (const a of [admin, admin2]) {
    const r = await http.patch(`/chats/${g.id}/members/${a.id}/role`, { token: owner.token, body: { role: "admin" } });
    expect(r.status).toBe(200);
  }
  return g.id;
}

async function roles(chatId: number, viewer = owner): Promise<Record<number, string>> {
  const r = await http.get(`/chats/${chatId}/members`, { token: viewer.token });
  expect(r.status).toBe(200);
  return Object.fromEntries(r.body.map((m: { user_id: number; role: string }) => [m.user_id, m.role]));
}

describe("add member", () => {
  test("owner and admins add (201 ChatMemberRead); already a member 409; members 403", async () => {
    const chatId = await staffedGroup();
    const newcomer = await createUser(server);
    const r = await http.post(`/chats/${chatId}/members`, { token: admin.token, body: { user_id: newcomer.id } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ user_id: newcomer.id, role: "member" });
    expect(typeof r.body.id).toBe("number");
    expect(r.body.joined_at).toMatch(/Z$/);
    expect((await http.post(`/chats/${chatId}/members`, { token: owner.token, body: { user_id: newcomer.id } })).status).toBe(409);
    const another = await createUser(server);
    expect((await http.post(`/chats/${chatId}/members`, { token: member.token, body: { user_id: another.id } })).status).toBe(403);
    expect((await http.post(`/chats/${chatId}/members`, { token: outsider.token, body: { user_id: another.id } })).status).toBe(404);
    expect((await http.post(`/chats/${chatId}/members`, { token: owner.token, body: { user_id: 9999999 } })).status).toBe(404);
    const detail = await http.get(`/chats/${chatId}`, { token: newcomer.token });
    expect(detail.body.members_count).toBe(6);
    expect(await chatIds(http, newcomer)).toContain(chatId);
    const notes = await server.app.db.select().from(notifications).where(eq(notifications.userId, newcomer.id));
    expect(notes.map((n) => [n.eventType, JSON.parse(n.payload).chat_id])).toEqual([["added_to_chat", chatId]]);
  });

  test("privacy_group_invites and blocks apply to add-member", async () => {
    const chatId = await staffedGroup();
    const closed = await createUser(server);
    const picky = await createUser(server);
    const blocker = await createUser(server);
    await http.put("/users/profile", { token: closed.token, body: { privacy_group_invites: "nobody" } });
    await http.put("/users/profile", { token: picky.token, body: { privacy_group_invites: "contacts" } });
    await http.post(`/users/${admin.id}/contacts`, { token: picky.token });
    await http.post(`/users/${owner.id}/block`, { token: blocker.token });
    expect((await http.post(`/chats/${chatId}/members`, { token: owner.token, body: { user_id: closed.id } })).status).toBe(403);
    expect((await http.post(`/chats/${chatId}/members`, { token: owner.token, body: { user_id: picky.id } })).status).toBe(403);
    expect((await http.post(`/chats/${chatId}/members`, { token: admin.token, body: { user_id: picky.id } })).status).toBe(201);
    expect((await http.post(`/chats/${chatId}/members`, { token: owner.token, body: { user_id: blocker.id } })).status).toBe(403);
  });

  test("a private chat has no member management (422)", async () => {
    const chat = await createPrivate(http, owner, member);
    expect((await http.post(`/chats/${chat.id}/members`, { token: owner.token, body: { user_id: outsider.id } })).status).toBe(422);
    expect((await http.post(`/chats/${chat.id}/leave`, { token: owner.token })).status).toBe(422);
  });
});

describe("roles", () => {
  test("only the owner changes roles", async () => {
    const chatId = await staffedGroup();
    expect((await http.patch(`/chats/${chatId}/members/${member.id}/role`, { token: admin.token, body: { role: "admin" } })).status).toBe(403);
    expect((await http.patch(`/chats/${chatId}/members/${member.id}/role`, { token: member2.token, body: { role: "admin" } })).status).toBe(403);
    expect((await http.patch(`/chats/${chatId}/members/${member.id}/role`, { token: owner.token, body: { role: "boss" } })).status).toBe(422);
    expect((await http.patch(`/chats/${chatId}/members/${outsider.id}/role`, { token: owner.token, body: { role: "admin" } })).status).toBe(404);
    expect((await http.patch(`/chats/${chatId}/members/${owner.id}/role`, { token: owner.token, body: { role: "member" } })).status).toBe(422);
    const demoted = await http.patch(`/chats/${chatId}/members/${admin2.id}/role`, { token: owner.token, body: { role: "member" } });
    expect(demoted.status).toBe(200);
    expect(demoted.body).toMatchObject({ user_id: admin2.id, role: "member" });
  });

  test("setting owner hands ownership over; the old owner becomes admin", async () => {
    const chatId = await staffedGroup();
    const r = await http.patch(`/chats/${chatId}/members/${member.id}/role`, { token: owner.token, body: { role: "owner" } });
    expect(r.status).toBe(200);
    expect(r.body.role).toBe("owner");
    const now = await roles(chatId);
    expect(now[member.id]).toBe("owner");
    expect(now[owner.id]).toBe("admin");
    expect(Object.values(now).filter((x) => x === "owner").length).toBe(1);
    expect((await http.get(`/chats/${chatId}`, { token: member.token })).body.my_role).toBe("owner");
    // The former owner lost the right.
    expect((await http.patch(`/chats/${chatId}/members/${admin.id}/role`, { token: owner.token, body: { role: "member" } })).status).toBe(403);
  });
});

describe("remove member", () => {
  test("admins remove plain members only; never the owner or other admins", async () => {
    const chatId = await staffedGroup();
    expect((await http.delete(`/chats/${chatId}/members/${owner.id}`, { token: admin.token })).status).toBe(403);
    expect((await http.delete(`/chats/${chatId}/members/${admin2.id}`, { token: admin.token })).status).toBe(403);
    expect((await http.delete(`/chats/${chatId}/members/${member2.id}`, { token: member.token })).status).toBe(403);
    const r = await http.delete(`/chats/${chatId}/members/${member.id}`, { token: admin.token });
    expect(r.status).toBe(204);
    expect(r.text).toBe("");
    expect((await http.get(`/chats/${chatId}`, { token: member.token })).status).toBe(404);
    expect((await http.delete(`/chats/${chatId}/members/${member.id}`, { token: admin.token })).status).toBe(404);
  });

  test("the owner removes anyone but themself", async () => {
    const chatId = await staffedGroup();
    expect((await http.delete(`/chats/${chatId}/members/${admin.id}`, { token: owner.token })).status).toBe(204);
    expect((await http.delete(`/chats/${chatId}/members/${member.id}`, { token: owner.token })).status).toBe(204);
    expect((await http.delete(`/chats/${chatId}/members/${owner.id}`, { token: owner.token })).status).toBe(422);
    const detail = await http.get(`/chats/${chatId}`, { token: owner.token });
    expect(detail.body.members_count).toBe(3);
    expect(detail.body.members.length).toBe(3);
  });
});

describe("leave", () => {
  test("owner leaving hands ownership to the oldest admin", async () => {
    const chatId = await staffedGroup();
    expect((await http.post(`/chats/${chatId}/leave`, { token: owner.token })).status).toBe(204);
    const now = await roles(chatId, admin);
    expect(now[owner.id]).toBeUndefined();
    expect(now[admin.id]).toBe("owner");
    expect(now[admin2.id]).toBe("admin");
    expect(await chatIds(http, owner)).not.toContain(chatId);
  });

  test("owner leaving without admins hands ownership to the oldest member", async () => {
    const g = await createGroup(http, owner, { members: [member, member2] });
    expect((await http.post(`/chats/${g.id}/leave`, { token: owner.token })).status).toBe(204);
    const now = await roles(g.id, member);
    expect(now[member.id]).toBe("owner");
    expect(now[member2.id]).toBe("member");
  });

  test("the last member leaving deletes the chat", async () => {
    const g = await createGroup(http, owner, { members: [member] });
    expect((await http.post(`/chats/${g.id}/leave`, { token: member.token })).status).toBe(204);
    expect((await http.post(`/chats/${g.id}/leave`, { token: owner.token })).status).toBe(204);
    expect((await http.get(`/chats/${g.id}`, { token: owner.token })).status).toBe(404);
    expect(await server.app.db.select().from(chats).where(eq(chats.id, g.id))).toEqual([]);
  });
});

describe("delete", () => {
  test("group for_all is the owner's; for_all=false is leaving", async () => {
    const chatId = await staffedGroup();
    expect((await http.delete(`/chats/${chatId}?for_all=true`, { token: admin.token })).status).toBe(403);
    expect((await http.delete(`/chats/${chatId}?for_all=false`, { token: member.token })).status).toBe(204);
    expect((await http.get(`/chats/${chatId}`, { token: member.token })).status).toBe(404);
    expect((await http.get(`/chats/${chatId}`, { token: admin.token })).body.members_count).toBe(4);
    expect((await http.delete(`/chats/${chatId}?for_all=true`, { token: owner.token })).status).toBe(204);
    for (const u of [owner, admin, admin2, member2]) expect((await http.get(`/chats/${chatId}`, { token: u.token })).status).toBe(404);
  });

  test("private for_all by either party removes it for both", async () => {
    const a = await createUser(server);
    const chat = await createPrivate(http, a, member);
    expect((await http.delete(`/chats/${chat.id}?for_all=true`, { token: member.token })).status).toBe(204);
    expect((await http.get(`/chats/${chat.id}`, { token: a.token })).status).toBe(404);
    expect(await chatIds(http, a)).not.toContain(chat.id);
    // A new one can be created afterwards.
    const again = await createPrivate(http, a, member);
    expect(again.id).not.toBe(chat.id);
  });

  test("private for_all=false removes it from the caller's list only", async () => {
    const a = await createUser(server);
    const chat = await createPrivate(http, a, member);
    expect((await http.delete(`/chats/${chat.id}`, { token: a.token })).status).toBe(204);
    expect(await chatIds(http, a)).not.toContain(chat.id);
    expect(await chatIds(http, member)).toContain(chat.id);
    // Asking for the pair again brings it back.
    expect((await createPrivate(http, a, member)).id).toBe(chat.id);
    expect(await chatIds(http, a)).toContain(chat.id);
  });
});

describe("invite links", () => {
  test("owner and admins get one stable token; anyone with it joins; unknown token 404", async () => {
    const chatId = await staffedGroup();
    expect((await http.post(`/chats/${chatId}/invite-link`, { token: member.token })).status).toBe(403);
    expect((await http.post(`/chats/${chatId}/invite-link`, { token: outsider.token })).status).toBe(404);
    const first = await http.post(`/chats/${chatId}/invite-link`, { token: admin.token });
    expect(first.status).toBe(200);
    expect(first.body.chat_id).toBe(chatId);
    expect(first.body.token.length).toBeGreaterThanOrEqual(22);
    expect(first.body.invite_url).toBe(`${server.app.config.FRONTEND_URL}/join?token=${first.body.token}`);
    const second = await http.post(`/chats/${chatId}/invite-link`, { token: owner.token });
    expect(second.body.token).toBe(first.body.token);

    const guest = await createUser(server);
    const joined = await http.post("/chats/join-by-invite", { token: guest.token, body: { token: first.body.token } });
    expect(joined.status).toBe(200);
    expect(joined.body).toMatchObject({ id: chatId, my_role: "member", members_count: 6 });
    const twice = await http.post("/chats/join-by-invite", { token: guest.token, body: { token: first.body.token } });
    expect(twice.body.members_count).toBe(6);
    expect((await http.post("/chats/join-by-invite", { token: guest.token, body: { token: "nope-not-a-token" } })).status).toBe(404);
    expect((await http.post("/chats/join-by-invite", { token: guest.token, body: { token: "" } })).status).toBe(422);
  });

  test("private chats have no invite link (422)", async () => {
    const chat = await createPrivate(http, owner, admin);
    expect((await http.post(`/chats/${chat.id}/invite-link`, { token: owner.token })).status).toBe(422);
  });
});
