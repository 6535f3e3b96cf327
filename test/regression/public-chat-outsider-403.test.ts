/**
 * Regression (authorization matrix): a public group or channel is visible to everyone signed in, so
 * a chat-level action by a non-member there is "may see, may not do": 403, not the 404 of a chat
 * they cannot see (CONTRACT §2, docs/decisions.md "Visibility"). A closed chat stays 404.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { api } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";

let server: TestServer;
let owner: TestUser;
let outsider: TestUser;
let target: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  [owner, outsider, target] = await Promise.all([createUser(server), createUser(server), createUser(server)]);
});
afterAll(() => server.stop());

async function chat(isPublic: boolean): Promise<number> {
  const handle = `reg_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const r = await api<{ id: number }>(server.url, "POST", "/chats", {
    token: owner.token,
    body: { type: "group", title: "regression", is_public: isPublic, handle: isPublic ? handle : undefined, member_ids: [target.id] },
  });
  expect(r.status).toBe(200);
  return r.body.id;
}

const calls: [string, string, (id: number) => string, unknown][] = [
  ["PATCH", "title", (id) => `/chats/${id}/title`, { title: "x" }],
  ["PATCH", "profile", (id) => `/chats/${id}/profile`, { description: "x" }],
  ["POST", "add member", (id) => `/chats/${id}/members`, { user_id: 1 }],
  ["PATCH", "role", (id) => `/chats/${id}/members/${target.id}/role`, { role: "admin" }],
  ["DELETE", "remove member", (id) => `/chats/${id}/members/${target.id}`, undefined],
  ["POST", "leave", (id) => `/chats/${id}/leave`, undefined],
  ["DELETE", "delete", (id) => `/chats/${id}?for_all=true`, undefined],
  ["POST", "clear", (id) => `/chats/${id}/clear`, undefined],
  ["POST", "pin", (id) => `/chats/${id}/pin`, { message_id: null }],
  ["GET", "notifications", (id) => `/chats/${id}/notifications`, undefined],
  ["PUT", "mute", (id) => `/chats/${id}/notifications`, { muted: true }],
  ["POST", "archive", (id) => `/chats/${id}/archive`, undefined],
  ["POST", "pin-chat", (id) => `/chats/${id}/pin-chat`, undefined],
  ["POST", "invite link", (id) => `/chats/${id}/invite-link`, undefined],
];

test("a non-member's chat-level action on a public group is 403; on a closed group 404", async () => {
  const open = await chat(true);
  const closed = await chat(false);
  const got: Record<string, [number, number]> = {};
  const want: Record<string, [number, number]> = {};
  for (const [method, name, path, body] of calls) {
    const a = await api(server.url, method, path(open), { token: outsider.token, body });
    const b = await api(server.url, method, path(closed), { token: outsider.token, body });
    got[name] = [a.status, b.status];
    want[name] = [403, 404];
  }
  expect(got).toEqual(want);
});
