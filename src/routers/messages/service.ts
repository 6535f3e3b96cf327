/**
 * Reading and changing existing messages (CONTRACT §6). Sending lives in send.ts, forwarding in
 * forward.ts, reactions in reactions.ts, search in search.ts.
 */
import { and, eq, gt, inArray, isNull, sql, type SQL } from "drizzle-orm";
import type { App } from "../../app";
import { queryRows, type DbOrTx } from "../../db/client";
import { chatMembers, chats, messageHides, messageMentions, messageReactions, messages } from "../../db/schema";
import { transact } from "../../db/transact";
import { forbidden, notFound } from "../../errors";
import { enforceRateLimit } from "../../lib/rate-limit";
import { createNotifications } from "../notifications/service";
import { CHAT_NOT_FOUND, isManager, requireMember } from "../chats/access";
import { emitSharedUpdate } from "../chats/membership";
import { literalLimit } from "../../db/sql-fragments";
import { isVisibleInChat, MESSAGE_NOT_FOUND, requireVisibleMessage, visibleTo } from "./access";
import { requireCanPost, storeMentions } from "./compose";
import { messageEvents } from "./events";
import { moveReceiptsStatement } from "./receipts";
import { chatReceiptsJoin, deliveryStatusFromLeadersSql, messageReadColumnsWith, messageReadFor, messageReadsFor, toMessageReadFromRow, type MessageReadRow, type MessageRow } from "./read-model";
import type { TMessageRead, TMessageStatusRead, TMessageStatusUpdateRequest } from "./schemas";

export { sendMessage } from "./send";

/**
 * Newest first; `beforeId` continues below that id. One statement: the caller's membership (none:
 * 404), the page and each message's delivery status.
 *
 * The range is spelled as (chat_id, id) row comparisons, not `chat_id = x`: with an equality the
 * planner may walk the id-only index over every chat's messages and filter (131 ms on the 1M-message
 * benchmark); only the (chat_id, id) primary key can serve these bounds and this order. The limit
 * is written into the statement (1..100, validated): with a `$n` limit the generic plan PostgreSQL
 * caches for a prepared statement assumes a tenth of the chat and sorts it (seconds on a big chat).
 */
export async function listHistory(
  db: DbOrTx,
  userId: number,
  input: { chat_id: number; limit: number; before_id?: number },
): Promise<TMessageRead[]> {
  const rows = await queryRows<MessageReadRow & { member: number }>(db, historyPageQuery(userId, input));
  if (rows.length === 0) throw notFound(CHAT_NOT_FOUND);
  return rows.filter((r) => r.id !== null).map(toMessageReadFromRow);
}

/** The history page's one statement: the caller's membership, then the page (see listHistory). */
export function historyPageQuery(userId: number, input: { chat_id: number; limit: number; before_id?: number }): SQL {
  const upper = input.before_id !== undefined ? sql`${input.before_id}` : sql.raw("9223372036854775807");
  return sql`select cm.user_id as member, p.*
        from chat_members cm
        ${chatReceiptsJoin(input.chat_id)}
        left join lateral (
          select ${messageReadColumnsWith(deliveryStatusFromLeadersSql)}
          from messages m
          where (m.chat_id, m.id) > (${input.chat_id}, cm.cleared_before_message_id) and (m.chat_id, m.id) < (${input.chat_id}, ${upper})
            and m.deleted_at is null
            and not exists (select 1 from message_hides h where h.chat_id = m.chat_id and h.user_id = cm.user_id and h.message_id = m.id)
          order by m.chat_id desc, m.id desc
          limit ${literalLimit(input.limit)}
        ) p on true
        where cm.chat_id = ${input.chat_id} and cm.user_id = ${userId}`;
}

/**
 * The root, then its replies level by level (breadth first), ascending id within a level. Replies
 * to a message the caller cannot see still belong to the thread; only the invisible one is left out.
 */
export async function listThread(db: DbOrTx, userId: number, input: { message_id: number; limit: number }): Promise<TMessageRead[]> {
  const { message: root, member } = await requireVisibleMessage(db, input.message_id, userId);
  const levels = await queryRows<{ id: string | number; depth: number }>(
    db,
    sql`with recursive thread(id, depth) as (
          select ${root.id}::bigint, 0
          union all
          select m.id, t.depth + 1 from messages m join thread t on m.chat_id = ${root.chatId} and m.reply_to_message_id = t.id
        )
        select id, depth from thread`,
  );
  const depthOf = new Map(levels.map((l) => [Number(l.id), Number(l.depth)]));
  const rows = await db
    .select()
    .from(messages)
    .where(and(eq(messages.chatId, root.chatId), inArray(messages.id, [...depthOf.keys()]), visibleTo(member)));
  rows.sort((a, b) => (depthOf.get(a.id) ?? 0) - (depthOf.get(b.id) ?? 0) || a.id - b.id);
  return messageReadsFor(db, rows.slice(0, input.limit));
}

/** Sender only (403); `updated_at` moves; mentions follow the new text. */
export async function editMessage(app: App, userId: number, input: { message_id: number; text: string }): Promise<TMessageRead> {
  const { message, chat, member } = await requireVisibleMessage(app.db, input.message_id, userId);
  if (message.senderId !== userId) throw forbidden("Only the sender can edit a message");
  // An edit puts new content in front of the chat: it needs the right to post now (a counterpart
  // who blocked the sender, a channel admin since demoted), as a new message would, and counts
  // against the same per-user limit (unlimited edits re-sent a message and its mentions at will).
  await requireCanPost(app.db, chat, member);
  await enforceRateLimit(app, "message", String(userId), app.config.MESSAGE_RATE_LIMIT_PER_MINUTE, 60, true);
  return transact(app, async (tx, events) => {
    const before = await tx
      .select({ userId: messageMentions.userId })
      .from(messageMentions)
      .where(and(eq(messageMentions.chatId, chat.id), eq(messageMentions.messageId, message.id)));
    const [row] = await tx
      .update(messages)
      .set({ text: input.text, updatedAt: sql`now()` })
      .where(and(eq(messages.chatId, chat.id), eq(messages.id, message.id), sql`${messages.deletedAt} is null`))
      .returning();
    if (!row) throw notFound(MESSAGE_NOT_FOUND);
    const mentioned = await storeMentions(tx, row, true);
    const already = new Set(before.map((b) => b.userId));
    await createNotifications(
      tx,
      events,
      mentioned
        .filter((id) => !already.has(id))
        .map((id) => ({ userId: id, eventType: "mention" as const, chatId: chat.id, messageId: row.id, senderId: row.senderId })),
    );
    const read = await messageReadFor(tx, row);
    messageEvents.updated(events, read);
    return read;
  });
}

/**
 * `for_all`: the sender, or the owner or an admin of a group/channel (403 otherwise); everyone
 * stops seeing it. Otherwise it disappears for the caller only.
 */
export async function deleteMessage(app: App, userId: number, input: { message_id: number; for_all: boolean }): Promise<void> {
  const { message, chat, member } = await requireVisibleMessage(app.db, input.message_id, userId);
  if (input.for_all) {
    const mayDelete = message.senderId === userId || (chat.type !== "private" && isManager(member.role));
    if (!mayDelete) throw forbidden("Only the sender or a chat admin can delete this message for everyone");
    await transact(app, async (tx, events) => {
      const done = await tx
        .update(messages)
        .set({ deletedAt: sql`now()`, updatedAt: sql`now()` })
        .where(and(eq(messages.chatId, chat.id), eq(messages.id, message.id), sql`${messages.deletedAt} is null`))
        .returning({ id: messages.id });
      if (done.length === 0) throw notFound(MESSAGE_NOT_FOUND);
      // A deleted message no longer counts as a mention anywhere, and its reactions go with it
      // (toggles lock the row updated above, so none lands after this).
      await tx.delete(messageMentions).where(and(eq(messageMentions.chatId, chat.id), eq(messageMentions.messageId, message.id)));
      await tx.delete(messageReactions).where(and(eq(messageReactions.chatId, chat.id), eq(messageReactions.messageId, message.id)));
      // The chat list orders by the newest message, else creation (CONTRACT §5): when this was the
      // newest, the activity falls back to the newest one left. A send that commits meanwhile has
      // moved the activity past this message, and the condition then leaves its value alone.
      await tx.execute(sql`
        update chats c set last_activity_at = coalesce(
          (select m.created_at from messages m where m.chat_id = c.id and m.deleted_at is null order by m.id desc limit 1), c.created_at)
        where c.id = ${chat.id}
          and c.last_activity_at <= (select d.created_at from messages d where d.chat_id = c.id and d.id = ${message.id})`);
      // A message gone for everyone is no pin any more.
      const unpinned = await tx
        .update(chats)
        .set({ pinnedMessageId: null, updatedAt: new Date() })
        .where(and(eq(chats.id, chat.id), eq(chats.pinnedMessageId, message.id)))
        .returning({ id: chats.id });
      const newer = await tx
        .select({ id: messages.id })
        .from(messages)
        .where(and(eq(messages.chatId, chat.id), gt(messages.id, message.id), isNull(messages.deletedAt)))
        .limit(1);
      messageEvents.deletedForAll(events, chat.id, message.id);
      // The chat's pin or last message changed: members get the chat as it is now (its ChatRead),
      // not only the message_deleted from which they would have to work that out.
      if (unpinned.length > 0 || newer.length === 0) await emitSharedUpdate(tx, events, chat.id);
    });
    return;
  }
  await transact(app, async (tx, events) => {
    await tx.insert(messageHides).values({ chatId: chat.id, messageId: message.id, userId }).onConflictDoNothing();
    await tx
      .delete(messageMentions)
      .where(and(eq(messageMentions.chatId, chat.id), eq(messageMentions.messageId, message.id), eq(messageMentions.userId, userId)));
    messageEvents.deletedForUser(events, userId, chat.id, message.id);
  });
}

/**
 * Moves the caller's delivered (and, for `message_read`, read) mark forward to `message_id`; an
 * older id leaves the marks as they are. Reading implies delivery. Events go out only for a mark
 * that moved. Also called by the realtime gateway for client frames.
 */
export async function updateMessageStatus(app: App, userId: number, input: TMessageStatusUpdateRequest): Promise<TMessageStatusRead> {
  const { member } = await requireMember(app.db, input.chat_id, userId);
  // A message the caller cannot see (deleted for all or for them, before their clear point) is 404
  // like one of another chat (CONTRACT §2).
  if (!(await isVisibleInChat(app.db, input.message_id, input.chat_id, member))) throw notFound(MESSAGE_NOT_FOUND);
  const read = input.status === "message_read";
  return transact(app, async (tx, events) => {
    const [prev] = await tx
      .select({ delivered: chatMembers.lastDeliveredMessageId, read: chatMembers.lastReadMessageId })
      .from(chatMembers)
      .where(and(eq(chatMembers.chatId, input.chat_id), eq(chatMembers.userId, userId)))
      .for("update");
    if (!prev) throw notFound("Chat not found");
    const delivered = Math.max(prev.delivered, input.message_id);
    const lastRead = read ? Math.max(prev.read, input.message_id) : prev.read;
    if (delivered !== prev.delivered || lastRead !== prev.read) {
      await tx
        .update(chatMembers)
        .set({ lastDeliveredMessageId: delivered, lastReadMessageId: lastRead })
        .where(and(eq(chatMembers.chatId, input.chat_id), eq(chatMembers.userId, userId)));
      await queryRows(
        tx,
        moveReceiptsStatement(input.chat_id, {
          read: lastRead !== prev.read ? { userId, mark: lastRead } : null,
          delivered: delivered !== prev.delivered ? { userId, mark: delivered } : null,
        }),
      );
    }
    if (delivered !== prev.delivered) messageEvents.statusMoved(events, "message_delivered", input.chat_id, userId, delivered);
    if (lastRead !== prev.read) messageEvents.statusMoved(events, "message_read", input.chat_id, userId, lastRead);
    return { last_delivered_message_id: delivered, last_read_message_id: lastRead };
  });
}

export type { MessageRow };
