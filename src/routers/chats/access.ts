/**
 * Who may see and do what in a chat (CONTRACT §2, §5): the one place each rule lives.
 * Visibility failures answer 404 exactly like a missing chat; missing rights answer 403.
 */
import { and, eq } from "drizzle-orm";
import type { DbOrTx } from "../../db/client";
import { chatMembers, chats, type ChatRole } from "../../db/schema";
import { forbidden, notFound } from "../../errors";

export type ChatRow = typeof chats.$inferSelect;
export type MemberRow = typeof chatMembers.$inferSelect;

export const CHAT_NOT_FOUND = "Chat not found";

export async function findChat(db: DbOrTx, chatId: number): Promise<ChatRow | undefined> {
  const rows = await db.select().from(chats).where(eq(chats.id, chatId)).limit(1);
  return rows[0];
}

export async function findMembership(db: DbOrTx, chatId: number, userId: number): Promise<MemberRow | undefined> {
  const rows = await db
    .select()
    .from(chatMembers)
    .where(and(eq(chatMembers.chatId, chatId), eq(chatMembers.userId, userId)))
    .limit(1);
  return rows[0];
}

/** The chat and the caller's membership; 404 when the caller is not a member (or no chat). */
export async function requireMember(db: DbOrTx, chatId: number, userId: number): Promise<{ chat: ChatRow; member: MemberRow }> {
  const rows = await db
    .select({ chat: chats, member: chatMembers })
    .from(chatMembers)
    .innerJoin(chats, eq(chats.id, chatMembers.chatId))
    .where(and(eq(chatMembers.chatId, chatId), eq(chatMembers.userId, userId)))
    .limit(1);
  const row = rows[0];
  if (!row) throw notFound(CHAT_NOT_FOUND);
  return row;
}

export const isManager = (role: ChatRole) => role === "owner" || role === "admin";

/** Channels accept posts from owner and admins only. */
export function canPost(chat: ChatRow, member: MemberRow): boolean {
  return chat.type !== "channel" || isManager(member.role);
}

export function requirePostRights(chat: ChatRow, member: MemberRow): void {
  if (!canPost(chat, member)) throw forbidden("Only the owner and admins can post in this channel");
}

/** Title/profile edits, pins in groups and channels, invite links (CONTRACT §5). */
export function requireManager(member: MemberRow, what = "Only the owner and admins can do this"): void {
  if (!isManager(member.role)) throw forbidden(what);
}
