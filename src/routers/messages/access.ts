/**
 * What of a chat's messages a member sees (CONTRACT §6): nothing deleted for all, nothing they
 * deleted for themself, nothing at or before their clear point. A message the caller cannot see
 * answers 404 exactly like a missing one.
 */
import { and, eq, gt, isNull, notExists, sql, type SQL } from "drizzle-orm";
import type { DbOrTx } from "../../db/client";
import { chatMembers, messageHides, messages } from "../../db/schema";
import { notFound } from "../../errors";
import { requireMember, type ChatRow, type MemberRow } from "../chats/access";
import type { MessageRow } from "./read-model";

export const MESSAGE_NOT_FOUND = "Message not found";

/** Rows of `messages` visible to `member` (join or correlate `messages` with the member's chat). */
export function visibleTo(member: Pick<MemberRow, "userId" | "clearedBeforeMessageId">): SQL {
  return and(
    isNull(messages.deletedAt),
    gt(messages.id, member.clearedBeforeMessageId),
    notExists(
      sql`(select 1 from ${messageHides} where ${messageHides.chatId} = ${messages.chatId} and ${messageHides.userId} = ${member.userId} and ${messageHides.messageId} = ${messages.id})`,
    ),
  ) as SQL;
}

/**
 * Same rule in raw statements: the message row `m` (an alias) as `userId` sees it, their clear
 * point given (NULL, no membership: sees nothing).
 */
export function visibleMessageSql(m: string, userId: SQL, clearedBefore: SQL): SQL {
  const r = sql.raw(m);
  return sql`${r}.deleted_at is null and ${r}.id > ${clearedBefore}
    and not exists (select 1 from message_hides h where h.chat_id = ${r}.chat_id and h.user_id = ${userId} and h.message_id = ${r}.id)`;
}

/** Same rule, correlated with a `chat_members` row joined per chat (search across chats). */
export function visibleToJoinedMember(userId: number): SQL {
  return and(
    isNull(messages.deletedAt),
    gt(messages.id, chatMembers.clearedBeforeMessageId),
    notExists(
      sql`(select 1 from ${messageHides} where ${messageHides.chatId} = ${messages.chatId} and ${messageHides.userId} = ${userId} and ${messageHides.messageId} = ${messages.id})`,
    ),
  ) as SQL;
}

/** Any message row by id alone, deleted or not: one step on `messages_id_idx`. */
export async function findMessageRow(db: DbOrTx, messageId: number): Promise<MessageRow | undefined> {
  const rows = await db.select().from(messages).where(eq(messages.id, messageId)).limit(1);
  return rows[0];
}

/** True when message `messageId` is in `chatId` and `member` (of that chat) can see it. */
export async function isVisibleInChat(db: DbOrTx, messageId: number, chatId: number, member: MemberRow): Promise<boolean> {
  const rows = await db
    .select({ id: messages.id })
    .from(messages)
    .where(and(eq(messages.chatId, chatId), eq(messages.id, messageId), visibleTo(member)))
    .limit(1);
  return rows.length > 0;
}

export interface VisibleMessage {
  message: MessageRow;
  chat: ChatRow;
  member: MemberRow;
}

/** The message, its chat and the caller's membership; 404 unless the caller can see it. */
export async function requireVisibleMessage(db: DbOrTx, messageId: number, userId: number): Promise<VisibleMessage> {
  const message = await findMessageRow(db, messageId);
  if (!message) throw notFound(MESSAGE_NOT_FOUND);
  const { chat, member } = await requireMember(db, message.chatId, userId).catch(() => {
    throw notFound(MESSAGE_NOT_FOUND);
  });
  if (!(await isVisibleInChat(db, messageId, message.chatId, member))) throw notFound(MESSAGE_NOT_FOUND);
  return { message, chat, member };
}
