/**
 * Writing a new message, shared by send and forward: who may post where, and everything one new
 * message changes inside its transaction (the row, the chat's activity, a hidden private chat coming
 * back, mention rows, notifications, the message_created event).
 *
 * Its cost does not grow with the chat: notifications for `message_created` are stored per member
 * only in private chats and groups of at most NOTIFY_EVERY_MEMBER_UP_TO members; bigger groups and
 * channels store only mentions (docs/decisions.md, "Messages").
 */
import { and, eq, inArray, ne, sql } from "drizzle-orm";
import type { DbOrTx, Tx } from "../../db/client";
import { chatMembers, chats, messageMentions, messages, users, type MessageType } from "../../db/schema";
import { forbidden } from "../../errors";
import type { EventSink } from "../../realtime/event-log";
import { requirePostRights, type ChatRow, type MemberRow } from "../chats/access";
import { createNotifications, type NewNotification } from "../notifications/service";
import { hasBlocked, isInContactsOf } from "../users/relations";
import { messageEvents } from "./events";
import { toMessageRead, type MessageRow } from "./read-model";
import type { TMessageRead } from "./schemas";

export const NOTIFY_EVERY_MEMBER_UP_TO = 100;

const MENTION = /(?:^|[^A-Za-z0-9_@])@([A-Za-z0-9_]{3,32})(?![A-Za-z0-9_])/g;

/** Lower-cased usernames mentioned as `@username` in `text`. */
export function mentionedUsernames(text: string | null | undefined): string[] {
  if (!text) return [];
  const names = new Set<string>();
  for (const m of text.matchAll(MENTION)) if (m[1]) names.add(m[1].toLowerCase());
  return [...names];
}

/**
 * Posting rights in a chat the caller is a member of: channels need owner/admin (403); a private
 * chat refuses a sender the counterpart blocked, or one outside their contacts when they accept
 * private messages from contacts only (403).
 */
export async function requireCanPost(db: DbOrTx, chat: ChatRow, member: MemberRow): Promise<void> {
  requirePostRights(chat, member);
  if (chat.type !== "private") return;
  const others = await db
    .select({ id: users.id, allowPrivateMessages: users.allowPrivateMessages })
    .from(chatMembers)
    .innerJoin(users, eq(users.id, chatMembers.userId))
    .where(and(eq(chatMembers.chatId, chat.id), ne(chatMembers.userId, member.userId)))
    .limit(1);
  const counterpart = others[0];
  if (!counterpart) return; // the saved chat, or a private chat whose other side is gone
  if (await hasBlocked(db, counterpart.id, member.userId)) throw forbidden("This user does not accept your messages");
  if (!counterpart.allowPrivateMessages && !(await isInContactsOf(db, counterpart.id, member.userId)))
    throw forbidden("This user accepts private messages from contacts only");
}

export interface NewMessage {
  chat: ChatRow;
  senderId: number;
  type: MessageType;
  text: string | null;
  clientMessageId: string | null;
  replyToMessageId: number | null;
  forwardedFromMessageId: number | null;
  attachmentWaveform: number[] | null;
}

export type WriteResult = { created: true; message: TMessageRead } | { created: false; existing: MessageRow };

/**
 * Inserts the message and its consequences. With a client_message_id already used by this sender
 * in this chat (a retry, possibly racing the first request), writes nothing and answers the first
 * row: the unique index decides, so two racing requests cannot both insert.
 */
export async function writeMessage(tx: Tx, events: EventSink, m: NewMessage): Promise<WriteResult> {
  // The chat row is locked before the id is drawn, so the sends of one chat commit (and take their
  // event positions) in id order: live frames, /sync and history agree (test/regression/
  // concurrent-send-order.test.ts). The update below would take this lock only after the insert.
  await tx.execute(sql`select 1 from chats where id = ${m.chat.id} for no key update`);
  const inserted = await tx
    .insert(messages)
    .values({
      chatId: m.chat.id,
      senderId: m.senderId,
      type: m.type,
      text: m.text,
      clientMessageId: m.clientMessageId,
      replyToMessageId: m.replyToMessageId,
      forwardedFromMessageId: m.forwardedFromMessageId,
      attachmentWaveform: m.attachmentWaveform,
    })
    .onConflictDoNothing({ target: [messages.chatId, messages.senderId, messages.clientMessageId] })
    .returning();
  const row = inserted[0];
  if (!row) {
    const existing = await findByClientId(tx, m.chat.id, m.senderId, m.clientMessageId ?? "");
    if (!existing) throw new Error("idempotency conflict without a row");
    return { created: false, existing };
  }

  await tx
    .update(chats)
    .set({ lastMessageId: sql`greatest(coalesce(${chats.lastMessageId}, 0), ${row.id})`, lastActivityAt: row.createdAt })
    .where(eq(chats.id, m.chat.id));
  if (m.chat.type === "private")
    await tx.update(chatMembers).set({ hidden: false }).where(and(eq(chatMembers.chatId, m.chat.id), eq(chatMembers.hidden, true)));

  const mentioned = await storeMentions(tx, row);
  await notify(tx, events, m.chat, row, mentioned);

  // Nobody else can have received a message that did not exist before this transaction.
  const read = toMessageRead(row, "sent");
  messageEvents.created(events, read);
  return { created: true, message: read };
}

export async function findByClientId(db: DbOrTx, chatId: number, senderId: number, clientMessageId: string): Promise<MessageRow | undefined> {
  const rows = await db
    .select()
    .from(messages)
    .where(and(eq(messages.chatId, chatId), eq(messages.senderId, senderId), eq(messages.clientMessageId, clientMessageId)))
    .limit(1);
  return rows[0];
}

/**
 * Mention rows for members named as `@username` (not the sender); answers their ids. `replace`
 * drops the message's earlier rows first (an edit).
 */
export async function storeMentions(tx: Tx, row: MessageRow, replace = false): Promise<number[]> {
  const names = mentionedUsernames(row.text);
  if (replace) await tx.delete(messageMentions).where(and(eq(messageMentions.chatId, row.chatId), eq(messageMentions.messageId, row.id)));
  if (names.length === 0) return [];
  const members = await tx
    .select({ id: users.id })
    .from(users)
    .innerJoin(chatMembers, and(eq(chatMembers.userId, users.id), eq(chatMembers.chatId, row.chatId)))
    .where(and(inArray(sql`lower(${users.username})`, names), ne(users.id, row.senderId)));
  if (members.length === 0) return [];
  await tx
    .insert(messageMentions)
    .values(members.map((u) => ({ chatId: row.chatId, messageId: row.id, userId: u.id })))
    .onConflictDoNothing();
  return members.map((u) => u.id);
}

async function notify(tx: Tx, events: EventSink, chat: ChatRow, row: MessageRow, mentioned: number[]): Promise<void> {
  const base = { chatId: chat.id, messageId: row.id, senderId: row.senderId };
  // Mentions reach muted chats too; a mentioned member gets that one notification, not two.
  const items: NewNotification[] = mentioned.map((userId) => ({ ...base, userId, eventType: "mention" }));
  const perMember = chat.type === "private" || (chat.type === "group" && chat.membersCount <= NOTIFY_EVERY_MEMBER_UP_TO);
  if (perMember) {
    const recipients = await tx
      .select({ userId: chatMembers.userId })
      .from(chatMembers)
      .where(and(eq(chatMembers.chatId, chat.id), ne(chatMembers.userId, row.senderId), eq(chatMembers.muted, false)))
      .limit(NOTIFY_EVERY_MEMBER_UP_TO + 1);
    const skip = new Set(mentioned);
    for (const r of recipients) if (!skip.has(r.userId)) items.push({ ...base, userId: r.userId, eventType: "message_created" });
  }
  await createNotifications(tx, events, items);
}
