import { bigint, integer, jsonb, pgSequence, pgTable, primaryKey, text, timestamp, index } from "drizzle-orm/pg-core";

/** One sequence orders both logs; see src/realtime/event-log.ts for why commits come out in order. */
export const eventSeq = pgSequence("event_seq", { startWith: 1 });

const ts = () => timestamp({ withTimezone: true, mode: "date" });

/** Events every member of a chat receives: one row per event, not per member. */
export const chatEvents = pgTable(
  "chat_events",
  {
    chatId: integer().notNull(),
    seq: bigint({ mode: "number" }).notNull(),
    type: text().notNull(),
    data: jsonb().$type<Record<string, unknown>>().notNull(),
    createdAt: ts().notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.chatId, t.seq] }), index("chat_events_seq_idx").on(t.seq)],
);

/** Events for one user (their own chat list changes, notifications, removal from a chat). */
export const userEvents = pgTable(
  "user_events",
  {
    userId: integer().notNull(),
    seq: bigint({ mode: "number" }).notNull(),
    type: text().notNull(),
    data: jsonb().$type<Record<string, unknown>>().notNull(),
    createdAt: ts().notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.seq] }), index("user_events_seq_idx").on(t.seq)],
);

/**
 * One row (id = 1): the highest position retention has deleted. A `since` below it may have lost
 * events in between, so resume answers resync_required / 410 (src/realtime/replay.ts).
 */
export const eventLogState = pgTable("event_log_state", {
  id: integer().primaryKey(),
  prunedThrough: bigint({ mode: "number" }).notNull().default(0),
});
