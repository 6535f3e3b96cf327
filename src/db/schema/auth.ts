import { index, integer, pgTable, serial, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { users } from "./users";

const ts = () => timestamp({ withTimezone: true, mode: "date" });

/** One row per login (lucia session); its id is the JWT `jti`. */
export const sessions = pgTable(
  "sessions",
  {
    id: text().primaryKey(),
    userId: integer().notNull().references(() => users.id, { onDelete: "cascade" }),
    expiresAt: ts().notNull(),
    createdAt: ts().notNull().defaultNow(),
    lastUsedAt: ts().notNull().defaultNow(),
    userAgent: text(),
    ip: text(),
    /** Hash of the only refresh token of this session that may still be used (rotation). */
    refreshTokenHash: text(),
  },
  (t) => [index("sessions_user_idx").on(t.userId)],
);

export const EMAIL_TOKEN_PURPOSES = ["verify_email", "reset_password"] as const;
export type EmailTokenPurpose = (typeof EMAIL_TOKEN_PURPOSES)[number];

/** Single-use tokens sent by mail; only their SHA-256 is stored. */
export const emailTokens = pgTable(
  "email_tokens",
  {
    id: serial().primaryKey(),
    userId: integer().notNull().references(() => users.id, { onDelete: "cascade" }),
    purpose: text().$type<EmailTokenPurpose>().notNull(),
    tokenHash: text().notNull(),
    expiresAt: ts().notNull(),
    usedAt: ts(),
    createdAt: ts().notNull().defaultNow(),
  },
  (t) => [uniqueIndex("email_tokens_hash_key").on(t.tokenHash), index("email_tokens_user_idx").on(t.userId)],
);
