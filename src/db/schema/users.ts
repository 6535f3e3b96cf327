import { sql } from "drizzle-orm";
import { bigint, boolean, index, integer, pgTable, primaryKey, serial, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

export const PRIVACY_LEVELS = ["everyone", "contacts", "nobody"] as const;
export type PrivacyLevel = (typeof PRIVACY_LEVELS)[number];

const ts = () => timestamp({ withTimezone: true, mode: "date" });

export const users = pgTable(
  "users",
  {
    id: serial().primaryKey(),
    /** Stored lower-case; unique. */
    email: text().notNull(),
    name: text().notNull(),
    username: text().notNull(),
    passwordHash: text().notNull(),
    bio: text(),
    avatarUrl: text(),
    emailVerified: boolean().notNull().default(false),
    allowPrivateMessages: boolean().notNull().default(true),
    twofaEnabled: boolean().notNull().default(false),
    /** AES-GCM encrypted TOTP secret (see auth/totp.ts); never returned after enable. */
    twofaSecret: text(),
    /** Last accepted TOTP time step: a code is accepted at most once. */
    twofaLastStep: bigint({ mode: "number" }),
    privacyAvatar: text().$type<PrivacyLevel>().notNull().default("everyone"),
    privacyLastSeen: text().$type<PrivacyLevel>().notNull().default("everyone"),
    privacyGroupInvites: text().$type<PrivacyLevel>().notNull().default("everyone"),
    lastSeenAt: ts(),
    createdAt: ts().notNull().defaultNow(),
    updatedAt: ts().notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("users_email_key").on(t.email),
    uniqueIndex("users_username_lower_key").on(sql`lower(${t.username})`),
    index("users_username_trgm").using("gin", sql`lower(${t.username}) gin_trgm_ops`),
    index("users_name_trgm").using("gin", sql`lower(${t.name}) gin_trgm_ops`),
    // Byte-ordered (C collation) so `like 'ab%'` and `order by` both ride the index: the
    // prefix step of user search stays an index range scan on any database collation.
    index("users_username_prefix").on(sql`(lower(${t.username}) collate "C")`),
    index("users_name_prefix").on(sql`(lower(${t.name}) collate "C")`),
  ],
);

export const contacts = pgTable(
  "contacts",
  {
    userId: integer().notNull().references(() => users.id, { onDelete: "cascade" }),
    contactId: integer().notNull().references(() => users.id, { onDelete: "cascade" }),
    createdAt: ts().notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.contactId] }), index("contacts_contact_idx").on(t.contactId)],
);

export const blocks = pgTable(
  "blocks",
  {
    userId: integer().notNull().references(() => users.id, { onDelete: "cascade" }),
    blockedId: integer().notNull().references(() => users.id, { onDelete: "cascade" }),
    createdAt: ts().notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.blockedId] }), index("blocks_blocked_idx").on(t.blockedId)],
);
