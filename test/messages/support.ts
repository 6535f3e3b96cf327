/** Shared steps of the messages, notifications and search tests. */
import { and, asc, eq, gt } from "drizzle-orm";
import { blocks, chatEvents, chatMembers, contacts, users, type ChatRole, type ChatType } from "../../src/db/schema";
import { insertChat } from "../helpers/fixtures";
import { client } from "../helpers/http";
import type { TestServer } from "../helpers/server";
import type { TestUser } from "../helpers/users";

export type Http = ReturnType<typeof client>;

let seq = 0;
/** Text unique within a test run, so the duplicate cooldown never meets an earlier test's text. */
export const uniqueText = (prefix = "msg") => `${prefix} ${Date.now().toString(36)}-${++seq}`;

export async function chatOf(
  server: TestServer,
  type: ChatType,
  owner: TestUser,
  members: TestUser[] = [],
  roles: Record<number, ChatRole> = {},
): Promise<number> {
  return insertChat(server, { type, ownerId: owner.id, memberIds: members.map((m) => m.id), roles });
}

/** Sends a text message through REST and answers its MessageRead, failing loudly on any other status. */
export async function sendText(http: Http, user: TestUser, chatId: number, text = uniqueText(), extra: Record<string, unknown> = {}) {
  const r = await http.post("/messages", { token: user.token, body: { chat_id: chatId, type: "text", text, ...extra } });
  if (r.status !== 201) throw new Error(`send failed: ${r.status} ${r.text}`);
  return r.body as { id: number; chat_id: number; text: string; delivery_status: string; [k: string]: unknown };
}

export async function markStatus(http: Http, user: TestUser, chatId: number, messageId: number, status: "message_read" | "message_delivered") {
  return http.post("/messages/status", { token: user.token, body: { chat_id: chatId, message_id: messageId, status } });
}

export async function block(server: TestServer, blocker: TestUser, blocked: TestUser) {
  await server.app.db.insert(blocks).values({ userId: blocker.id, blockedId: blocked.id });
}

export async function addContact(server: TestServer, owner: TestUser, contact: TestUser) {
  await server.app.db.insert(contacts).values({ userId: owner.id, contactId: contact.id });
}

export async function denyPrivateMessages(server: TestServer, user: TestUser) {
  await server.app.db.update(users).set({ allowPrivateMessages: false }).where(eq(users.id, user.id));
}

export async function setMuted(server: TestServer, chatId: number, user: TestUser, muted: boolean) {
  await server.app.db
    .update(chatMembers)
    .set({ muted })
    .where(and(eq(chatMembers.chatId, chatId), eq(chatMembers.userId, user.id)));
}

export async function clearChatFor(server: TestServer, chatId: number, user: TestUser, upTo: number) {
  await server.app.db
    .update(chatMembers)
    .set({ clearedBeforeMessageId: upTo })
    .where(and(eq(chatMembers.chatId, chatId), eq(chatMembers.userId, user.id)));
}

export async function removeMember(server: TestServer, chatId: number, user: TestUser) {
  await server.app.db.delete(chatMembers).where(and(eq(chatMembers.chatId, chatId), eq(chatMembers.userId, user.id)));
}

/** The chat events written after position `since`, oldest first. */
export async function chatEventsOf(server: TestServer, chatId: number, since = 0) {
  return server.app.db
    .select()
    .from(chatEvents)
    .where(and(eq(chatEvents.chatId, chatId), gt(chatEvents.seq, since)))
    .orderBy(asc(chatEvents.seq));
}
