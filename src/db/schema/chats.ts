import { sql } from "drizzle-orm";
import { bigint, boolean, index, integer, pgTable, primaryKey, serial, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { users } from "./users";

export const CHAT_TYPES = ["private", "group", "channel"] as const;
export type ChatType = (typeof CHAT_TYPES)[number];
export const CHAT_ROLES = ["owner", "admin", "member"] as const;
export type ChatRole = (typeof CHAT_ROLES)[number];

const ts = () => timestamp({ withTimezone: true, mode: "date" });

export const chats = pgTable(
  "chats",
  {
    id: serial().primaryKey(),
    /** 24 random characters from 0-9A-Z, never derived from `id`. */
    publicId: text().notNull(),
    type: text().$type<ChatType>().notNull(),
    title: text(),
    handle: text(),
    description: text(),
    avatarUrl: text(),
    isPublic: boolean().notNull().default(false),
    isSaved: boolean().notNull().default(false),
    /**
     * Makes "one private chat per pair" and "one saved chat per user" a unique constraint, so
     * concurrent creations race to one row: `p:<lowId>:<highId>` or `s:<userId>`.
     */
    uniqueKey: text(),
    pinnedMessageId: bigint({ mode: "number" }),
    inviteToken: text(),
    /** Newest message id (any), for ordering the chat list by activity. */
    lastMessageId: bigint({ mode: "number" }),
    /** Messages ever created in the chat (deleted ones included): the top of `messages.chat_seq`. */
    messageCount: bigint({ mode: "number" }).notNull().default(0),
    lastActivityAt: ts().notNull().defaultNow(),
    /** Members now; kept in step with chat_members so ChatRead never counts a 100k channel. */
    membersCount: integer().notNull().default(0),
    createdAt: ts().notNull().defaultNow(),
    updatedAt: ts().notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("chats_public_id_key").on(t.publicId),
    uniqueIndex("chats_handle_key").on(t.handle),
    uniqueIndex("chats_unique_key").on(t.uniqueKey),
    uniqueIndex("chats_invite_token_key").on(t.inviteToken),
    index("chats_title_trgm").using("gin", sql`lower(${t.title}) gin_trgm_ops`),
    index("chats_handle_trgm").using("gin", sql`${t.handle} gin_trgm_ops`),
  ],
);

/**
 * Membership plus everything per (chat, user): role, read/delivered marks, clear point and the
 * per-user flags. Distributed with chats by chat_id.
 */
export const chatMembers = pgTable(
  "chat_members",
  {
    /** ChatMemberRead.id: a stable id of the membership itself (the key is (chat_id, user_id)). */
    id: serial().notNull(),
    chatId: integer().notNull().references(() => chats.id, { onDelete: "cascade" }),
    userId: integer().notNull().references(() => users.id, { onDelete: "cascade" }),
    role: text().$type<ChatRole>().notNull().default("member"),
    joinedAt: ts().notNull().defaultNow(),
    lastReadMessageId: bigint({ mode: "number" }).notNull().default(0),
    lastDeliveredMessageId: bigint({ mode: "number" }).notNull().default(0),
    /** Messages with id <= this are cleared for this member. */
    clearedBeforeMessageId: bigint({ mode: "number" }).notNull().default(0),
    archived: boolean().notNull().default(false),
    pinnedAt: ts(),
    muted: boolean().notNull().default(false),
    /** A private chat deleted "for me": hidden until the next message arrives. */
    hidden: boolean().notNull().default(false),
    /** Event-log position when this membership began: replays never show earlier chat events. */
    joinedSeq: bigint({ mode: "number" }).notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.chatId, t.userId] }),
    index("chat_members_user_idx").on(t.userId, t.chatId),
    index("chat_members_role_idx").on(t.chatId, t.role, t.joinedAt),
    // Members who cleared their history past a message (few): live edits and reactions of that
    // message skip them (realtime/unseen-messages.ts).
    index("chat_members_cleared_idx").on(t.chatId, t.clearedBeforeMessageId).where(sql`cleared_before_message_id > 0`),
  ],
);

/**
 * Per chat, who is furthest ahead by read and by delivered mark, for `delivery_status` (CONTRACT
 * §6: "read" once a member other than the sender has read up to it). Kept apart from the members'
 * own marks because it must only move forward: a member who leaves takes their marks along, and a
 * member who joins starts with marks at the newest message (nothing unread) without having read
 * anything. Per kind: the leader, their mark, and the best mark of anyone else (`*Second`), which is
 * all the rule needs (the sender is at most one of the two). Written by `updateMessageStatus` only.
 */
export const chatReceipts = pgTable("chat_receipts", {
  chatId: integer()
    .primaryKey()
    .references(() => chats.id, { onDelete: "cascade" }),
  readUserId: integer(),
  readMark: bigint({ mode: "number" }).notNull().default(0),
  readSecond: bigint({ mode: "number" }).notNull().default(0),
  deliveredUserId: integer(),
  deliveredMark: bigint({ mode: "number" }).notNull().default(0),
  deliveredSecond: bigint({ mode: "number" }).notNull().default(0),
});

/**
 * Memberships that ended (left or removed), kept while their events are in the log: a client that
 * resumes from before a leave still gets what it missed while it was a member, also when it has
 * joined again since (replay.ts). Rows go with the log's retention.
 */
export const chatMemberPeriods = pgTable(
  "chat_member_periods",
  {
    chatId: integer()
      .notNull()
      .references(() => chats.id, { onDelete: "cascade" }),
    userId: integer()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** Event-log position when the membership began (its `chat_members.joined_seq`). */
    joinedSeq: bigint({ mode: "number" }).notNull(),
    /** Event-log position when it ended: its chat events up to here were the member's. */
    leftSeq: bigint({ mode: "number" }).notNull(),
    /** The member's clear point when they left: replays leave out what they had cleared. */
    clearedBeforeMessageId: bigint({ mode: "number" }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.chatId, t.userId, t.joinedSeq] }), index("chat_member_periods_user_idx").on(t.userId, t.leftSeq)],
);
