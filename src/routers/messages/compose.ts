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
import { queryRows, rowFromDriver, type DbOrTx, type Tx } from "../../db/client";
import { chatMembers, messageMentions, messages, notifications, users, type MessageType } from "../../db/schema";
import { forbidden, notFound } from "../../errors";
import type { EventSink } from "../../realtime/event-log";
import type { App } from "../../app";
import { CHAT_NOT_FOUND, requirePostRights, type ChatRow, type MemberRow } from "../chats/access";
import { emitPersonalUpdate } from "../chats/membership";
import { announceNotifications } from "../notifications/service";
import { messageEvents } from "./events";
import { toMessageRead, type MessageRow } from "./read-model";
import type { TMessageRead } from "./schemas";
import { messageWriteStatement } from "./write-statement";

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
  // The counterpart with both relations to the sender, in one round trip (users/relations.ts
  // states the same two rules for one pair at a time).
  const others = await db
    .select({
      allowPrivateMessages: users.allowPrivateMessages,
      blockedSender: sql<boolean>`exists (select 1 from blocks b where b.user_id = ${users.id} and b.blocked_id = ${member.userId})`,
      senderInContacts: sql<boolean>`exists (select 1 from contacts c where c.user_id = ${users.id} and c.contact_id = ${member.userId})`,
    })
    .from(chatMembers)
    .innerJoin(users, eq(users.id, chatMembers.userId))
    .where(and(eq(chatMembers.chatId, chat.id), ne(chatMembers.userId, member.userId)))
    .limit(1);
  const counterpart = others[0];
  if (!counterpart) return; // the saved chat, or a private chat whose other side is gone
  if (counterpart.blockedSender) throw forbidden("This user does not accept your messages");
  if (!counterpart.allowPrivateMessages && !counterpart.senderInContacts)
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
 * Inserts the message and its consequences (one statement, write-statement.ts). With a
 * client_message_id already used by this sender in this chat (a retry, possibly racing the first
 * request), writes nothing and answers the first row: the unique index decides, so two racing
 * requests cannot both insert.
 */
export async function writeMessage(app: App, tx: Tx, events: EventSink, m: NewMessage): Promise<WriteResult> {
  const written = await queryRows<Record<string, unknown> & { notifications: unknown; unhidden: unknown }>(
    tx,
    messageWriteStatement({
      chatId: m.chat.id,
      senderId: m.senderId,
      type: m.type,
      text: m.text,
      clientMessageId: m.clientMessageId,
      replyToMessageId: m.replyToMessageId,
      forwardedFromMessageId: m.forwardedFromMessageId,
      attachmentWaveform: m.attachmentWaveform,
      mentions: mentionedUsernames(m.text),
      notifyMembers: notifiesEveryMember(m.chat),
      unhide: m.chat.type === "private",
    }),
  );
  const raw = written[0];
  if (!raw) {
    const existing = m.clientMessageId === null ? undefined : await findByClientId(tx, m.chat.id, m.senderId, m.clientMessageId);
    // No conflicting row: the chat, or the sender's membership, was gone when the statement locked it.
    if (!existing) throw notFound(CHAT_NOT_FOUND);
    return { created: false, existing };
  }
  const row = rowFromDriver(messages, raw);
  announceNotifications(events, driverJson(raw.notifications).map((n) => rowFromDriver(notifications, n)));
  // A member who had deleted the private chat "for me" gets it back: their chat_updated goes first,
  // so their sockets (unsubscribed by that chat_deleted) subscribe again before the message.
  for (const userId of driverJson<number>(raw.unhidden)) await emitPersonalUpdate(app, tx, events, Number(userId), row.chatId);
  // Nobody else can have received a message that did not exist before this transaction.
  const read = toMessageRead(row, "sent");
  messageEvents.created(events, read);
  return { created: true, message: read };
}

/**
 * message_created notifications are stored per member only in private chats and groups of at most
 * NOTIFY_EVERY_MEMBER_UP_TO members; bigger groups and channels store only mentions.
 */
const notifiesEveryMember = (chat: ChatRow): boolean =>
  chat.type === "private" || (chat.type === "group" && chat.membersCount <= NOTIFY_EVERY_MEMBER_UP_TO);

/** A json column of a raw query: postgres.js parses it, PGlite may hand over the text. */
const driverJson = <T = Record<string, unknown>>(value: unknown): T[] => (typeof value === "string" ? JSON.parse(value) : (value ?? [])) as T[];

export async function findByClientId(db: DbOrTx, chatId: number, senderId: number, clientMessageId: string): Promise<MessageRow | undefined> {
  const rows = await db
    .select()
    .from(messages)
    .where(and(eq(messages.chatId, chatId), eq(messages.senderId, senderId), eq(messages.clientMessageId, clientMessageId)))
    .limit(1);
  return rows[0];
}

/**
 * Mention rows for members named as `@username` (not the sender) who can see the message; answers
 * their ids. `replace` drops the message's earlier rows first (an edit: a member who deleted the
 * message for themself, or cleared past it, is not mentioned by it).
 */
export async function storeMentions(tx: Tx, row: MessageRow, replace = false): Promise<number[]> {
  const names = mentionedUsernames(row.text);
  if (replace) await tx.delete(messageMentions).where(and(eq(messageMentions.chatId, row.chatId), eq(messageMentions.messageId, row.id)));
  if (names.length === 0) return [];
  const members = await tx
    .select({ id: users.id })
    .from(users)
    .innerJoin(chatMembers, and(eq(chatMembers.userId, users.id), eq(chatMembers.chatId, row.chatId)))
    .where(
      and(
        inArray(sql`lower(${users.username})`, names),
        ne(users.id, row.senderId),
        sql`${chatMembers.clearedBeforeMessageId} < ${row.id}`,
        sql`not exists (select 1 from message_hides h where h.chat_id = ${row.chatId} and h.user_id = ${users.id} and h.message_id = ${row.id})`,
      ),
    );
  if (members.length === 0) return [];
  await tx
    .insert(messageMentions)
    .values(members.map((u) => ({ chatId: row.chatId, messageId: row.id, userId: u.id })))
    .onConflictDoNothing();
  return members.map((u) => u.id);
}
