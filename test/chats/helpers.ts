/** Small REST helpers shared by the chats tests. */
import { expect } from "bun:test";
import { sql } from "drizzle-orm";
import { client } from "../helpers/http";
import type { TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";

export type Http = ReturnType<typeof client>;

let handleCounter = 0;
/** A handle unique within the test run (4-32 of [a-z0-9_]). */
export const uniqueHandle = (prefix = "h") => `${prefix}_${Date.now().toString(36)}${(handleCounter++).toString(36)}`.toLowerCase().slice(0, 32);

export async function createGroup(
  http: Http,
  owner: TestUser,
  opts: { type?: "group" | "channel"; members?: TestUser[]; title?: string; isPublic?: boolean; handle?: string } = {},
): Promise<{ id: number; [k: string]: unknown }> {
  const isPublic = opts.isPublic ?? false;
  const r = await http.post("/chats", {
    token: owner.token,
    body: {
      type: opts.type ?? "group",
      title: opts.title ?? "Test group",
      is_public: isPublic,
      handle: isPublic ? (opts.handle ?? uniqueHandle()) : undefined,
      member_ids: (opts.members ?? []).map((m) => m.id),
    },
  });
  expect(r.status).toBe(200);
  return r.body;
}

export async function createPrivate(http: Http, a: TestUser, b: TestUser): Promise<{ id: number; [k: string]: unknown }> {
  const r = await http.post("/chats", { token: a.token, body: { type: "private", member_ids: [b.id] } });
  expect(r.status).toBe(200);
  return r.body;
}

/** Marks the message as mentioning `userId`, as the messages domain does on send. */
export async function insertMention(server: TestServer, chatId: number, messageId: number, userId: number): Promise<void> {
  await server.app.db.execute(sql`insert into message_mentions (chat_id, message_id, user_id) values (${chatId}, ${messageId}, ${userId})`);
}

export async function setPrivacy(server: TestServer, userId: number, column: "privacy_group_invites" | "privacy_avatar" | "privacy_last_seen", level: string) {
  await server.app.db.execute(sql`update users set ${sql.raw(column)} = ${level} where id = ${userId}`);
}

export async function sendText(http: Http, sender: TestUser, chatId: number, text = "hello"): Promise<number> {
  const r = await http.post("/messages", { token: sender.token, body: { chat_id: chatId, text } });
  expect(r.status).toBe(201);
  return r.body.id;
}

export async function chatIds(http: Http, user: TestUser, query = ""): Promise<number[]> {
  const r = await http.get(`/chats?limit=100${query}`, { token: user.token });
  expect(r.status).toBe(200);
  return r.body.map((c: { id: number }) => c.id);
}

type Tuple<N extends number, T, R extends T[] = []> = R["length"] extends N ? R : Tuple<N, T, [...R, T]>;

/** `count` users registered in parallel, typed as a tuple so they destructure without checks. */
export async function createUsers<N extends number>(server: TestServer, count: N): Promise<Tuple<N, TestUser>> {
  return (await Promise.all(Array.from({ length: count }, () => createUser(server)))) as Tuple<N, TestUser>;
}
