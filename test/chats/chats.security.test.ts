/**
 * Every chats procedure as anonymous, non-member, member, admin and owner of a closed group, and
 * the status each gets (CONTRACT §2: 401 without a token, 404 for what the caller may not see,
 * 403 for what they may see but not do). Each case runs on a fresh group, so one case's change
 * (leaving, deleting) never decides another's answer.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import type { TestUser } from "../helpers/users";
import { createGroup, createUsers, type Http, sendText } from "./helpers";

type Role = "anonymous" | "nonmember" | "member" | "admin" | "owner";
const ROLES: Role[] = ["anonymous", "nonmember", "member", "admin", "owner"];

let server: TestServer;
let http: Http;
let owner: TestUser;
let admin: TestUser;
let member: TestUser;
let member2: TestUser;
let nonmember: TestUser;
let spare: TestUser[];

interface Fixture {
  chatId: number;
  messageId: number;
}

interface Case {
  name: string;
  call: (token: string | undefined, f: Fixture) => Promise<{ status: number }>;
  expect: [anonymous: number, nonmember: number, member: number, admin: number, owner: number];
}

let spareIndex = 0;
const nextSpare = () => {
  const user = spare[spareIndex++ % spare.length];
  if (!user) throw new Error("no spare users");
  return user;
};

const CASES: Case[] = [
  { name: "GET /chats/{id}", call: (t, f) => http.get(`/chats/${f.chatId}`, { token: t }), expect: [401, 404, 200, 200, 200] },
  { name: "GET /chats/{id}/members", call: (t, f) => http.get(`/chats/${f.chatId}/members`, { token: t }), expect: [401, 404, 200, 200, 200] },
  { name: "PATCH /chats/{id}/title", call: (t, f) => http.patch(`/chats/${f.chatId}/title`, { token: t, body: { title: "T" } }), expect: [401, 404, 403, 200, 200] },
  {
    name: "PATCH /chats/{id}/profile",
    call: (t, f) => http.patch(`/chats/${f.chatId}/profile`, { token: t, body: { description: "d" } }),
    expect: [401, 404, 403, 200, 200],
  },
  {
    name: "POST /chats/{id}/members",
    call: (t, f) => http.post(`/chats/${f.chatId}/members`, { token: t, body: { user_id: nextSpare().id } }),
    expect: [401, 404, 403, 201, 201],
  },
  {
    name: "PATCH /chats/{id}/members/{uid}/role",
    call: (t, f) => http.patch(`/chats/${f.chatId}/members/${member2.id}/role`, { token: t, body: { role: "admin" } }),
    expect: [401, 404, 403, 403, 200],
  },
  { name: "DELETE /chats/{id}/members/{uid}", call: (t, f) => http.delete(`/chats/${f.chatId}/members/${member2.id}`, { token: t }), expect: [401, 404, 403, 204, 204] },
  { name: "POST /chats/{id}/leave", call: (t, f) => http.post(`/chats/${f.chatId}/leave`, { token: t }), expect: [401, 404, 204, 204, 204] },
  { name: "DELETE /chats/{id}?for_all=true", call: (t, f) => http.delete(`/chats/${f.chatId}?for_all=true`, { token: t }), expect: [401, 404, 403, 403, 204] },
  { name: "DELETE /chats/{id}?for_all=false", call: (t, f) => http.delete(`/chats/${f.chatId}?for_all=false`, { token: t }), expect: [401, 404, 204, 204, 204] },
  { name: "POST /chats/{id}/clear", call: (t, f) => http.post(`/chats/${f.chatId}/clear`, { token: t }), expect: [401, 404, 204, 204, 204] },
  { name: "POST /chats/{id}/pin", call: (t, f) => http.post(`/chats/${f.chatId}/pin`, { token: t, body: { message_id: f.messageId } }), expect: [401, 404, 403, 200, 200] },
  { name: "GET /chats/{id}/notifications", call: (t, f) => http.get(`/chats/${f.chatId}/notifications`, { token: t }), expect: [401, 404, 200, 200, 200] },
  {
    name: "PUT /chats/{id}/notifications",
    call: (t, f) => http.put(`/chats/${f.chatId}/notifications`, { token: t, body: { muted: true } }),
    expect: [401, 404, 200, 200, 200],
  },
  { name: "POST /chats/{id}/archive", call: (t, f) => http.post(`/chats/${f.chatId}/archive`, { token: t }), expect: [401, 404, 200, 200, 200] },
  { name: "POST /chats/{id}/unarchive", call: (t, f) => http.post(`/chats/${f.chatId}/unarchive`, { token: t }), expect: [401, 404, 200, 200, 200] },
  { name: "POST /chats/{id}/pin-chat", call: (t, f) => http.post(`/chats/${f.chatId}/pin-chat`, { token: t }), expect: [401, 404, 200, 200, 200] },
  { name: "POST /chats/{id}/unpin-chat", call: (t, f) => http.post(`/chats/${f.chatId}/unpin-chat`, { token: t }), expect: [401, 404, 200, 200, 200] },
  { name: "POST /chats/{id}/invite-link", call: (t, f) => http.post(`/chats/${f.chatId}/invite-link`, { token: t }), expect: [401, 404, 403, 200, 200] },
  // A closed group cannot be joined from outside; for a member joining again is a no-op.
  { name: "POST /chats/{id}/join", call: (t, f) => http.post(`/chats/${f.chatId}/join`, { token: t }), expect: [401, 404, 200, 200, 200] },
];

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  [owner, admin, member, member2, nonmember, ...spare] = await createUsers(server, 9);
});
afterAll(() => server.stop());

async function freshGroup(): Promise<Fixture> {
  const g = await createGroup(http, owner, { members: [admin, member, member2] });
  const promoted = await http.patch(`/chats/${g.id}/members/${admin.id}/role`, { token: owner.token, body: { role: "admin" } });
  expect(promoted.status).toBe(200);
  return { chatId: g.id, messageId: await sendText(http, owner, g.id, "pinnable") };
}

const tokenOf = (role: Role): string | undefined =>
  ({ anonymous: undefined, nonmember: nonmember.token, member: member.token, admin: admin.token, owner: owner.token })[role];

describe("chats authorization table", () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const got: Record<string, number> = {};
      const want: Record<string, number> = {};
      for (const [i, role] of ROLES.entries()) {
        const fixture = await freshGroup();
        got[role] = (await c.call(tokenOf(role), fixture)).status;
        want[role] = c.expect[i] ?? 0;
      }
      expect(got).toEqual(want);
    });
  }

  test("endpoints without a chat id: 401 anonymous, 200 signed in", async () => {
    const calls: [string, (t: string | undefined) => Promise<{ status: number }>][] = [
      ["GET /chats", (t) => http.get("/chats", { token: t })],
      ["GET /chats/saved", (t) => http.get("/chats/saved", { token: t })],
      ["GET /chats/discover", (t) => http.get("/chats/discover?query=test", { token: t })],
      ["POST /chats", (t) => http.post("/chats", { token: t, body: { type: "group", title: "Mine" } })],
    ];
    for (const [name, call] of calls) {
      expect([name, (await call(undefined)).status]).toEqual([name, 401]);
      expect([name, (await call(nonmember.token)).status]).toEqual([name, 200]);
    }
    const link = await http.post(`/chats/${(await freshGroup()).chatId}/invite-link`, { token: owner.token });
    expect((await http.post("/chats/join-by-invite", { body: { token: link.body.token } })).status).toBe(401);
    expect((await http.post("/chats/join-by-invite", { token: nonmember.token, body: { token: link.body.token } })).status).toBe(200);
  });

  test("a non-member's 404 is the same as a missing chat's", async () => {
    const { chatId } = await freshGroup();
    const hidden = await http.get(`/chats/${chatId}`, { token: nonmember.token });
    const missing = await http.get("/chats/2147483000", { token: nonmember.token });
    expect(hidden.status).toBe(404);
    expect(hidden.body).toEqual(missing.body);
  });
});

describe("what a ChatRead shows of messages", () => {
  test("a non-member viewing a public group sees neither its last message nor its pin (messages are members-only)", async () => {
    const chat = await createGroup(http, owner, { members: [member], isPublic: true });
    const id = await sendText(http, owner, chat.id, "members only");
    expect((await http.post(`/chats/${chat.id}/pin`, { token: owner.token, body: { message_id: id } })).status).toBe(200);
    const outside = await http.get(`/chats/${chat.id}`, { token: nonmember.token });
    expect(outside.status).toBe(200);
    expect(outside.body).toMatchObject({ last_message_text: null, last_message_type: null, last_message_created_at: null, pinned_message_id: null, my_role: null });
    const inside = await http.get(`/chats/${chat.id}`, { token: member.token });
    expect(inside.body).toMatchObject({ last_message_text: "members only", pinned_message_id: id });
  });

  test("the pin is null for a member who deleted that message for themself or cleared past it", async () => {
    const chat = await createGroup(http, owner, { members: [member, member2] });
    const id = await sendText(http, owner, chat.id, "pinned");
    expect((await http.post(`/chats/${chat.id}/pin`, { token: owner.token, body: { message_id: id } })).status).toBe(200);
    expect((await http.delete(`/messages/${id}?for_all=false`, { token: member.token })).status).toBe(204);
    expect((await http.post(`/chats/${chat.id}/clear`, { token: member2.token })).status).toBe(204);
    for (const u of [member, member2]) expect((await http.get(`/chats/${chat.id}`, { token: u.token })).body.pinned_message_id).toBeNull();
    expect((await http.get(`/chats/${chat.id}`, { token: owner.token })).body.pinned_message_id).toBe(id);
  });
});
