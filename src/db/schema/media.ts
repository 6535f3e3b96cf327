import { bigint, bigserial, index, integer, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

export const attachments = pgTable(
  "attachments",
  {
    id: bigserial({ mode: "number" }).notNull(),
    chatId: integer().notNull(),
    messageId: bigint({ mode: "number" }).notNull(),
    uploaderId: integer().notNull(),
    fileUrl: text().notNull(),
    objectKey: text().notNull(),
    fileType: text().notNull(),
    fileSize: bigint({ mode: "number" }).notNull(),
    waveformPoints: integer().array(),
    createdAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.chatId, t.id] }), index("attachments_message_idx").on(t.chatId, t.messageId)],
);
