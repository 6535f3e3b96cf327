/**
 * Who may see and do what in a chat (CONTRACT §2, §5): the one place each rule lives.
 * Visibility failures answer 404 exactly like a missing chat; missing rights answer 403.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Db, DbOrTx } from "../../db/client";
import { prepared } from "../../db/prepared";
import { blocks, chatMembers, chats, users, type ChatRole } from "../../db/schema";
import { forbidden, notFound, unprocessable } from "../../errors";
import { ownersWhoListViewer, visibleTo } from "../users/privacy";
import { hasBlocked, isInContactsOf } from "../users/relations";

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
  // Every message-level call starts here (each send): built and prepared once per database.
  const rows = await prepared(db as Db, "require_member", (d) =>
    d
      .select({ chat: chats, member: chatMembers })
      .from(chatMembers)
      .innerJoin(chats, eq(chats.id, chatMembers.chatId))
      .where(and(eq(chatMembers.chatId, sql.placeholder("chatId")), eq(chatMembers.userId, sql.placeholder("userId"))))
      .limit(1)
      .prepare("require_member"),
  ).execute({ chatId, userId });
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

/**
 * The chat as the caller may see it: a member sees it with their membership; anyone signed in sees
 * a public group or channel (without membership). Everything else is 404.
 */
export async function requireVisibleChat(db: DbOrTx, chatId: number, userId: number): Promise<{ chat: ChatRow; member: MemberRow | undefined }> {
  const rows = await db
    .select({ chat: chats, member: chatMembers })
    .from(chats)
    .leftJoin(chatMembers, and(eq(chatMembers.chatId, chats.id), eq(chatMembers.userId, userId)))
    .where(eq(chats.id, chatId))
    .limit(1);
  const row = rows[0];
  if (!row) throw notFound(CHAT_NOT_FOUND);
  if (row.member) return { chat: row.chat, member: row.member };
  if (isDiscoverable(row.chat)) return { chat: row.chat, member: undefined };
  throw notFound(CHAT_NOT_FOUND);
}

/**
 * The caller's membership for a chat-level action (settings, members, pins, invite links): 404 when
 * the chat is not visible to them, 403 when it is visible (a public group or channel) but they are
 * not a member: "may see but may not do" (CONTRACT §2). Message-level actions keep `requireMember`
 * (a non-member sends nothing and sees no messages: 404, CONTRACT §6).
 */
export async function requireMemberForAction(db: DbOrTx, chatId: number, userId: number): Promise<{ chat: ChatRow; member: MemberRow }> {
  const { chat, member } = await requireVisibleChat(db, chatId, userId);
  if (!member) throw forbidden("You are not a member of this chat");
  return { chat, member };
}

/** Public groups and channels: seen, discovered and joined by anyone. */
export const isDiscoverable = (chat: ChatRow) => chat.isPublic && chat.type !== "private";

/** Groups and channels only: private and saved chats have no titles, roles or member management. */
export function requireGroupOrChannel(chat: ChatRow, what = "Not possible in a private chat"): void {
  if (chat.type === "private") throw unprocessable(what);
}

export function requireOwner(member: MemberRow, what = "Only the owner can do this"): void {
  if (member.role !== "owner") throw forbidden(what);
}

/** Either member pins in a private chat; owner and admins in groups and channels. */
export function requirePinRights(chat: ChatRow, member: MemberRow): void {
  if (chat.type !== "private") requireManager(member, "Only the owner and admins can pin messages");
}

/** The owner removes anyone but themself; an admin removes plain members only. */
export function requireRemoveRights(actor: MemberRow, target: MemberRow): void {
  if (actor.userId === target.userId) throw unprocessable("user_id: use leave to remove yourself");
  if (actor.role === "owner") return;
  if (actor.role === "admin" && target.role === "member") return;
  throw forbidden(actor.role === "admin" ? "Admins can remove plain members only" : "Only the owner and admins can remove members");
}

/**
 * Whether `actorId` may put each of `targetIds` into a group or channel (CONTRACT §4): the target
 * exists (404), has not blocked the actor (403) and their privacy_group_invites lets the actor in
 * (403). Two queries whatever the count.
 */
export async function requireInvitable(db: DbOrTx, actorId: number, targetIds: number[]): Promise<void> {
  const ids = [...new Set(targetIds)].filter((id) => id !== actorId);
  if (ids.length === 0) return;
  const [found, listed, blockers] = await Promise.all([
    db
      .select({ id: users.id, avatarUrl: users.avatarUrl, privacyAvatar: users.privacyAvatar, privacyLastSeen: users.privacyLastSeen, privacyGroupInvites: users.privacyGroupInvites })
      .from(users)
      .where(inArray(users.id, ids)),
    ownersWhoListViewer(db, actorId, ids),
    db
      .select({ id: blocks.userId })
      .from(blocks)
      .where(and(inArray(blocks.userId, ids), eq(blocks.blockedId, actorId))),
  ]);
  const byId = new Map(found.map((u) => [u.id, u]));
  const blockedBy = new Set(blockers.map((b) => b.id));
  for (const id of ids) {
    const user = byId.get(id);
    if (!user) throw notFound(`User ${id} not found`);
    if (blockedBy.has(id)) throw forbidden(`User ${id} does not accept invitations from you`);
    if (!visibleTo(actorId, user, listed).canInvite) throw forbidden(`User ${id} does not accept invitations from you`);
  }
}

/**
 * Whether `callerId` may start a new private chat with `targetId` (CONTRACT §4): the target exists
 * (404), has not blocked the caller, and accepts private messages from them (403).
 */
export async function requireCanStartPrivate(db: DbOrTx, callerId: number, targetId: number): Promise<void> {
  const rows = await db.select({ allow: users.allowPrivateMessages }).from(users).where(eq(users.id, targetId)).limit(1);
  const target = rows[0];
  if (!target) throw notFound("User not found");
  if (await hasBlocked(db, targetId, callerId)) throw forbidden("This user does not accept messages from you");
  if (!target.allow && !(await isInContactsOf(db, targetId, callerId))) throw forbidden("This user does not accept private messages");
}
