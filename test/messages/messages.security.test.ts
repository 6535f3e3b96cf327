/**
 * Every messages procedure as anonymous, a non-member, a member, an admin and the owner of a group
 * and of a channel: the status each must get (CONTRACT §2 visibility 404, rights 403).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { chatOf, sendText, uniqueText, type Http } from "./support";

type Role = "anonymous" | "stranger" | "member" | "admin" | "owner";
const ROLES: Role[] = ["anonymous", "stranger", "member", "admin", "owner"];

let server: TestServer;
let http: Http;
let users: Record<Exclude<Role, "anonymous">, TestUser>;
let group: number;
let channel: number;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  const [owner, admin, member, stranger] = await Promise.all([createUser(server), createUser(server), createUser(server), createUser(server)]);
  users = { owner, admin, member, stranger };
  const roles = { [admin.id]: "admin" as const };
  group = await chatOf(server, "group", owner, [admin, member], roles);
  channel = await chatOf(server, "channel", owner, [admin, member], roles);
});
afterAll(() => server.stop());

const tokenOf = (role: Role) => (role === "anonymous" ? undefined : users[role].token);

interface Case {
  name: string;
  /** Expected status per role; `chat` is the chat under test. */
  expect: Record<Role, number>;
  run: (token: string | undefined, chat: number) => Promise<number>;
}

/** A fresh message in `chat` by `author`, so destructive cases never share one. */
const fresh = (chat: number, author: Role = "owner") => sendText(http, users[author === "anonymous" || author === "stranger" ? "owner" : author], chat);

const seeOnly = { anonymous: 401, stranger: 404, member: 200, admin: 200, owner: 200 };
const post = (memberStatus: number) => ({ anonymous: 401, stranger: 404, member: memberStatus, admin: 201, owner: 201 });

function cases(kind: "group" | "channel"): Case[] {
  const memberPost = kind === "channel" ? 403 : 201;
  return [
    {
      name: "POST /messages",
      expect: post(memberPost),
      run: async (token, chat) => (await http.post("/messages", { token, body: { chat_id: chat, text: uniqueText() } })).status,
    },
    {
      name: "GET /messages/search?chat_id",
      expect: seeOnly,
      run: async (token, chat) => (await http.get(`/messages/search?query=msg&chat_id=${chat}`, { token })).status,
    },
    { name: "GET /messages/{chat_id}", expect: seeOnly, run: async (token, chat) => (await http.get(`/messages/${chat}`, { token })).status },
    {
      name: "GET /messages/{message_id}/thread",
      expect: seeOnly,
      run: async (token, chat) => (await http.get(`/messages/${(await fresh(chat)).id}/thread`, { token })).status,
    },
    {
      name: "PUT /messages/{message_id} (the owner's message)",
      expect: { anonymous: 401, stranger: 404, member: 403, admin: 403, owner: 200 },
      run: async (token, chat) => (await http.put(`/messages/${(await fresh(chat)).id}`, { token, body: { text: "edited" } })).status,
    },
    {
      name: "DELETE /messages/{message_id}?for_all=false",
      expect: { anonymous: 401, stranger: 404, member: 204, admin: 204, owner: 204 },
      run: async (token, chat) => (await http.delete(`/messages/${(await fresh(chat)).id}?for_all=false`, { token })).status,
    },
    {
      name: "DELETE /messages/{message_id}?for_all=true (the admin's message)",
      expect: { anonymous: 401, stranger: 404, member: 403, admin: 204, owner: 204 },
      run: async (token, chat) => (await http.delete(`/messages/${(await fresh(chat, "admin")).id}?for_all=true`, { token })).status,
    },
    {
      name: "POST /messages/status",
      expect: seeOnly,
      run: async (token, chat) =>
        (await http.post("/messages/status", { token, body: { chat_id: chat, message_id: (await fresh(chat)).id, status: "message_read" } })).status,
    },
    {
      name: "POST /messages/{message_id}/forward (into the same chat)",
      expect: post(memberPost),
      run: async (token, chat) => (await http.post(`/messages/${(await fresh(chat)).id}/forward`, { token, body: { target_chat_id: chat } })).status,
    },
    {
      name: "POST /messages/{message_id}/forward-bulk (into the same chat)",
      expect: post(memberPost),
      run: async (token, chat) =>
        (await http.post(`/messages/${(await fresh(chat)).id}/forward-bulk`, { token, body: { target_chat_ids: [chat] } })).status,
    },
    {
      name: "GET /messages/{message_id}/reactions",
      expect: seeOnly,
      run: async (token, chat) => (await http.get(`/messages/${(await fresh(chat)).id}/reactions`, { token })).status,
    },
    {
      name: "POST /messages/{message_id}/reactions/toggle",
      expect: seeOnly,
      run: async (token, chat) => (await http.post(`/messages/${(await fresh(chat)).id}/reactions/toggle`, { token, body: { emoji: "👍" } })).status,
    },
  ];
}

for (const kind of ["group", "channel"] as const) {
  describe(`messages authorization in a ${kind}`, () => {
    for (const c of cases(kind)) {
      test(c.name, async () => {
        const chat = kind === "group" ? group : channel;
        const got: Record<string, number> = {};
        for (const role of ROLES) got[role] = await c.run(tokenOf(role), chat);
        expect(got).toEqual(c.expect);
      });
    }
  });
}

test("a private chat: either side sees and posts; only the sender edits or deletes for all; a third user gets 404", async () => {
  const { owner: a, member: b, stranger: s } = users;
  const chat = await chatOf(server, "private", a, [b]);
  const m = await sendText(http, a, chat);
  expect((await http.get(`/messages/${chat}`, { token: b.token })).status).toBe(200);
  expect((await http.get(`/messages/${chat}`, { token: s.token })).status).toBe(404);
  expect((await http.put(`/messages/${m.id}`, { token: b.token, body: { text: "x" } })).status).toBe(403);
  expect((await http.delete(`/messages/${m.id}?for_all=true`, { token: b.token })).status).toBe(403);
  expect((await http.get(`/messages/${m.id}/reactions`, { token: s.token })).status).toBe(404);
  await sendText(http, b, chat);
});
