import { bigserial, index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";

export const NOTIFICATION_TYPES = ["message_created", "mention", "added_to_chat"] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

export const notifications = pgTable(
  "notifications",
  {
    id: bigserial({ mode: "number" }).primaryKey(),
    userId: integer().notNull(),
    eventType: text().$type<NotificationType>().notNull(),
    /** JSON string with chat_id, message_id, sender_id (CONTRACT §6). */
    payload: text().notNull(),
    createdAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("notifications_user_idx").on(t.userId, t.id)],
);
