/**
 * Reactions (CONTRACT §6): any member who sees a message may toggle their own emoji on it. The list
 * is sorted by count (most first), then emoji.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import type { App } from "../../app";
import type { DbOrTx } from "../../db/client";
import { messageReactions, messages } from "../../db/schema";
import { transact } from "../../db/transact";
import { notFound, unprocessable } from "../../errors";
import { MESSAGE_NOT_FOUND, requireVisibleMessage } from "./access";
import { messageEvents, type ReactionCount } from "./events";
import type { TMessageReactionRead } from "./schemas";

async function reactionSummary(db: DbOrTx, chatId: number, messageId: number, viewerId: number): Promise<TMessageReactionRead[]> {
  const rows = await db
    .select({
      emoji: messageReactions.emoji,
      count: sql<number>`count(*)::int`,
      reacted: sql<boolean>`bool_or(${messageReactions.userId} = ${viewerId})`,
    })
    .from(messageReactions)
    .where(and(eq(messageReactions.chatId, chatId), eq(messageReactions.messageId, messageId)))
    .groupBy(messageReactions.emoji);
  return rows
    .map((r) => ({ emoji: r.emoji, count: Number(r.count), reacted: Boolean(r.reacted) }))
    .sort((a, b) => b.count - a.count || (a.emoji < b.emoji ? -1 : a.emoji > b.emoji ? 1 : 0));
}

/**
 * Different emoji one message may carry. Any short string is an emoji here, and every toggle sends
 * the message's whole list to every member: without a bound one user adding 2,000 made each member
 * receive 108 MB (resource audit).
 */
export const MAX_EMOJI_PER_MESSAGE = 20;

/** 422 when `emoji` would be one more than MAX_EMOJI_PER_MESSAGE (the caller holds the message's lock). */
async function requireRoomForEmoji(tx: DbOrTx, chatId: number, messageId: number, emoji: string): Promise<void> {
  const [row] = await tx
    .select({
      distinct: sql<number>`count(distinct ${messageReactions.emoji})::int`,
      present: sql<boolean>`coalesce(bool_or(${messageReactions.emoji} = ${emoji}), false)`,
    })
    .from(messageReactions)
    .where(and(eq(messageReactions.chatId, chatId), eq(messageReactions.messageId, messageId)));
  if (row && !row.present && Number(row.distinct) >= MAX_EMOJI_PER_MESSAGE)
    throw unprocessable(`emoji: a message takes at most ${MAX_EMOJI_PER_MESSAGE} different reactions`);
}

export async function listReactions(db: DbOrTx, userId: number, messageId: number): Promise<TMessageReactionRead[]> {
  const { message } = await requireVisibleMessage(db, messageId, userId);
  return reactionSummary(db, message.chatId, message.id, userId);
}

/**
 * Adds the caller's emoji, or removes it when already there. The message row is locked first, so
 * toggles of one message run one after the other (two parallel toggles of one emoji both saw it
 * absent and both acted as "add") and none lands after a delete for all (which removes the
 * message's reactions under the same lock).
 */
export async function toggleReaction(app: App, userId: number, input: { message_id: number; emoji: string }): Promise<TMessageReactionRead[]> {
  const { message } = await requireVisibleMessage(app.db, input.message_id, userId);
  return transact(app, async (tx, events) => {
    const [live] = await tx
      .select({ id: messages.id })
      .from(messages)
      .where(and(eq(messages.chatId, message.chatId), eq(messages.id, message.id), isNull(messages.deletedAt)))
      .for("no key update");
    if (!live) throw notFound(MESSAGE_NOT_FOUND);
    const mine = and(
      eq(messageReactions.chatId, message.chatId),
      eq(messageReactions.messageId, message.id),
      eq(messageReactions.userId, userId),
      eq(messageReactions.emoji, input.emoji),
    );
    const removed = await tx.delete(messageReactions).where(mine).returning({ emoji: messageReactions.emoji });
    if (removed.length === 0) {
      await requireRoomForEmoji(tx, message.chatId, message.id, input.emoji);
      await tx
        .insert(messageReactions)
        .values({ chatId: message.chatId, messageId: message.id, userId, emoji: input.emoji })
        .onConflictDoNothing();
    }
    const summary = await reactionSummary(tx, message.chatId, message.id, userId);
    const counts: ReactionCount[] = summary.map(({ emoji, count }) => ({ emoji, count }));
    messageEvents.reactionsUpdated(events, message.chatId, message.id, counts);
    return summary;
  });
}
