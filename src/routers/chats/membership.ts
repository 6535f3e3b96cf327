/**
 * Write-side building blocks shared by every membership change: the chat row lock that serialises
 * them per chat (hand-overs and "last member deletes" must see a stable member list), inserts and
 * deletes that keep chats.members_count in step, and chat deletion.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { App } from "../../app";
import { queryRows, type Tx } from "../../db/client";
import { attachments, chatMemberPeriods, chatMembers, chats, messageHides, messageMentions, messageReactions, type ChatRole } from "../../db/schema";
import type { EventSink } from "../../realtime/event-log";
import { CHAT_NOT_FOUND, type ChatRow, type MemberRow } from "./access";
import { notFound } from "../../errors";
import { loadChatReads } from "./read-model";

/** The chat row, locked until the transaction ends; 404 when it is gone. */
export async function lockChat(tx: Tx, chatId: number): Promise<ChatRow> {
  const rows = await tx.select().from(chats).where(eq(chats.id, chatId)).for("update").limit(1);
  const chat = rows[0];
  if (!chat) throw notFound(CHAT_NOT_FOUND);
  return chat;
}

/** Highest event-log position drawn so far: a new member's replays start after it. */
async function logPosition(tx: Tx): Promise<number> {
  const rows = await queryRows<{ position: string | number }>(tx, sql`select ${LOG_POSITION} as position`);
  return Number(rows[0]?.position ?? 0);
}

/** The event log's current position as an SQL expression (a membership starting now starts after it). */
export const LOG_POSITION = sql`(select case when is_called then last_value else 0 end from event_seq)`;

export interface NewMember {
  userId: number;
  role: ChatRole;
}

/**
 * Adds memberships that do not exist yet and answers the rows created. A new member starts read up
 * to the chat's newest message: earlier history is there to scroll, not unread.
 */
export async function insertMembers(tx: Tx, chat: ChatRow, members: NewMember[]): Promise<MemberRow[]> {
  if (members.length === 0) return [];
  const seq = await logPosition(tx);
  const mark = chat.lastMessageId ?? 0;
  const created = await tx
    .insert(chatMembers)
    .values(members.map((m) => ({ chatId: chat.id, userId: m.userId, role: m.role, lastReadMessageId: mark, lastDeliveredMessageId: mark, joinedSeq: seq })))
    .onConflictDoNothing()
    .returning();
  if (created.length > 0)
    await tx
      .update(chats)
      .set({ membersCount: sql`${chats.membersCount} + ${created.length}`, updatedAt: new Date() })
      .where(eq(chats.id, chat.id));
  return created;
}

/** Ends a membership; the period it covered stays readable for replays (`chatMemberPeriods`). */
export async function deleteMember(tx: Tx, chatId: number, userId: number): Promise<boolean> {
  const gone = await tx
    .delete(chatMembers)
    .where(and(eq(chatMembers.chatId, chatId), eq(chatMembers.userId, userId)))
    .returning({ joinedSeq: chatMembers.joinedSeq, clearedBefore: chatMembers.clearedBeforeMessageId });
  const ended = gone[0];
  if (!ended) return false;
  await tx
    .update(chats)
    .set({ membersCount: sql`greatest(${chats.membersCount} - 1, 0)`, updatedAt: new Date() })
    .where(eq(chats.id, chatId));
  await endPeriod(tx, chatId, userId, ended.joinedSeq, ended.clearedBefore);
  return true;
}

/**
 * Hides a private chat "for me" (cleared up to `newestMessageId`) until a new message or a reopen
 * brings it back. For replays a hide ends a membership period like leaving does: while hidden the
 * chat's events are not the user's (replay.ts reads no hidden membership), and the return starts a
 * new period at the log position of that moment (`joined_seq`), so what happened in between is
 * never replayed, as it never reached a live socket.
 */
export async function hidePrivateChat(tx: Tx, chatId: number, userId: number, newestMessageId: number): Promise<void> {
  const [hidden] = await tx
    .update(chatMembers)
    .set({ hidden: true, clearedBeforeMessageId: sql`greatest(${chatMembers.clearedBeforeMessageId}, ${newestMessageId})` })
    .where(and(eq(chatMembers.chatId, chatId), eq(chatMembers.userId, userId)))
    .returning({ joinedSeq: chatMembers.joinedSeq, clearedBefore: chatMembers.clearedBeforeMessageId });
  if (hidden) await endPeriod(tx, chatId, userId, hidden.joinedSeq, hidden.clearedBefore);
}

async function endPeriod(tx: Tx, chatId: number, userId: number, joinedSeq: number, clearedBefore: number): Promise<void> {
  const leftSeq = await logPosition(tx);
  await tx
    .insert(chatMemberPeriods)
    .values({ chatId, userId, joinedSeq, leftSeq, clearedBeforeMessageId: clearedBefore })
    .onConflictDoUpdate({
      target: [chatMemberPeriods.chatId, chatMemberPeriods.userId, chatMemberPeriods.joinedSeq],
      set: { leftSeq: sql`greatest(${chatMemberPeriods.leftSeq}, excluded.left_seq)` },
    });
}

export async function setRole(tx: Tx, chatId: number, userId: number, role: ChatRole): Promise<MemberRow | undefined> {
  const rows = await tx
    .update(chatMembers)
    .set({ role })
    .where(and(eq(chatMembers.chatId, chatId), eq(chatMembers.userId, userId)))
    .returning();
  return rows[0];
}

/** Removes the chat for everyone: each member hears `chat_deleted`; rows keyed by chat_id go too. */
export async function deleteChatForAll(tx: Tx, events: EventSink, chatId: number): Promise<void> {
  const members = await tx.select({ userId: chatMembers.userId }).from(chatMembers).where(eq(chatMembers.chatId, chatId));
  // These tables carry chat_id without a foreign key (distribution by chat), so nothing cascades.
  await tx.delete(messageHides).where(eq(messageHides.chatId, chatId));
  await tx.delete(messageMentions).where(eq(messageMentions.chatId, chatId));
  await tx.delete(messageReactions).where(eq(messageReactions.chatId, chatId));
  await tx.delete(attachments).where(eq(attachments.chatId, chatId));
  await tx.delete(chats).where(eq(chats.id, chatId));
  for (const m of members) events.toUser(m.userId, "chat_deleted", { chat_id: chatId });
}

/** What every member sees alike; the realtime gateway adds each receiver's own fields. */
export function sharedChatFields(chat: ChatRow): Record<string, unknown> {
  return {
    chat_id: chat.id,
    title: chat.title,
    avatar_url: chat.avatarUrl,
    description: chat.description,
    handle: chat.handle,
    is_public: chat.isPublic,
    pinned_message_id: chat.pinnedMessageId,
    members_count: chat.membersCount,
    subscribers_count: chat.type === "channel" ? chat.membersCount : null,
  };
}

/** Re-reads the chat (inside the transaction) and tells every member about the shared change. */
export async function emitSharedUpdate(tx: Tx, events: EventSink, chatId: number): Promise<void> {
  const rows = await tx.select().from(chats).where(eq(chats.id, chatId)).limit(1);
  const chat = rows[0];
  if (chat) events.toChat(chat.id, "chat_updated", sharedChatFields(chat));
}

/** `chat_updated` with the user's own ChatRead, for a change only they see. Answers that ChatRead. */
export async function emitPersonalUpdate(app: App, tx: Tx, events: EventSink, userId: number, chatId: number) {
  const [chat] = await loadChatReads(app, tx, userId, [chatId]);
  if (chat) events.toUser(userId, "chat_updated", { chat });
  return chat;
}

export async function membersOf(tx: Tx, chatId: number, userIds: number[]): Promise<MemberRow[]> {
  if (userIds.length === 0) return [];
  return tx
    .select()
    .from(chatMembers)
    .where(and(eq(chatMembers.chatId, chatId), inArray(chatMembers.userId, userIds)));
}
