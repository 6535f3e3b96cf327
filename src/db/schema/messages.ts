import { sql } from "drizzle-orm";
import { bigint, bigserial, index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { chats } from "./chats";
import { users } from "./users";

export const MESSAGE_TYPES = ["text", "image", "video", "audio", "voice", "file", "circle_video"] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

const ts = () => timestamp({ withTimezone: true, mode: "date" });

/**
 * Keyed by (chat_id, id) for distribution by chat; `id` comes from one global sequence so a
 * message can be addressed alone through the `messages_id_idx` lookup.
 */
export const messages = pgTable(
  "messages",
  {
    id: bigserial({ mode: "number" }).notNull(),
    chatId: integer().notNull().references(() => chats.id, { onDelete: "cascade" }),
    senderId: integer().notNull().references(() => users.id, { onDelete: "cascade" }),
    /**
     * The message's position in its chat: 1, 2, 3, ... in id order, drawn under the chat row's lock
     * from `chats.message_count` (write-statement.ts). Unread counts subtract positions instead of
     * counting rows (routers/chats/unread.ts).
     */
    chatSeq: bigint({ mode: "number" }).notNull(),
    type: text().$type<MessageType>().notNull(),
    text: text(),
    replyToMessageId: bigint({ mode: "number" }),
    forwardedFromMessageId: bigint({ mode: "number" }),
    clientMessageId: text(),
    attachmentWaveform: integer().array(),
    deletedAt: ts(),
    createdAt: ts().notNull().defaultNow(),
    updatedAt: ts().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.chatId, t.id] }),
    index("messages_id_idx").on(t.id),
    // Partial: only the rows each exists for. Whole, their NULLs deduplicated into small indexes
    // leading with chat_id that generic plans took for a cheap walk of one chat and sorted (the
    // history page read its whole chat; test/regression/history-plan.test.ts). The primary key is
    // the only index that leads with chat_id for every message.
    uniqueIndex("messages_client_id_key").on(t.chatId, t.senderId, t.clientMessageId).where(sql`client_message_id is not null`),
    index("messages_reply_idx").on(t.chatId, t.replyToMessageId).where(sql`reply_to_message_id is not null`),
    // What unread counts subtract from the positions: the reader's own messages, and messages
    // deleted for all (few, hence partial).
    index("messages_sender_idx").on(t.chatId, t.senderId, t.id),
    index("messages_deleted_idx").on(t.chatId, t.id).where(sql`deleted_at is not null`),
    // Trigrams of lower(text) keyed by chat (btree_gin): one chat's matches without the others',
    // and still every chat's when only the text is given (src/routers/messages/search.ts).
    index("messages_chat_text_trgm").using("gin", t.chatId, sql`lower(${t.text}) gin_trgm_ops`),
  ],
);

/** "Delete for me": one row per (message, user). */
export const messageHides = pgTable(
  "message_hides",
  {
    chatId: integer().notNull(),
    messageId: bigint({ mode: "number" }).notNull(),
    userId: integer().notNull(),
  },
  (t) => [primaryKey({ columns: [t.chatId, t.userId, t.messageId] })],
);

/** Who a message mentions, for unread_mentions_count and mention notifications. */
export const messageMentions = pgTable(
  "message_mentions",
  {
    chatId: integer().notNull(),
    messageId: bigint({ mode: "number" }).notNull(),
    userId: integer().notNull(),
  },
  (t) => [primaryKey({ columns: [t.chatId, t.userId, t.messageId] })],
);

export const messageReactions = pgTable(
  "message_reactions",
  {
    chatId: integer().notNull(),
    messageId: bigint({ mode: "number" }).notNull(),
    userId: integer().notNull(),
    emoji: text().notNull(),
    createdAt: ts().notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.chatId, t.messageId, t.userId, t.emoji] })],
);
