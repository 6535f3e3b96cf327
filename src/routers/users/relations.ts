/** Blocks and contacts between two users, as other domains need them (CONTRACT §4). */
import { and, eq, or } from "drizzle-orm";
import type { DbOrTx } from "../../db/client";
import { blocks, contacts } from "../../db/schema";

/** True when `blockerId` has blocked `targetId`. */
export async function hasBlocked(db: DbOrTx, blockerId: number, targetId: number): Promise<boolean> {
  const rows = await db
    .select({ one: blocks.userId })
    .from(blocks)
    .where(and(eq(blocks.userId, blockerId), eq(blocks.blockedId, targetId)))
    .limit(1);
  return rows.length > 0;
}

/** True when either user has blocked the other. */
export async function eitherBlocked(db: DbOrTx, a: number, b: number): Promise<boolean> {
  const rows = await db
    .select({ one: blocks.userId })
    .from(blocks)
    .where(or(and(eq(blocks.userId, a), eq(blocks.blockedId, b)), and(eq(blocks.userId, b), eq(blocks.blockedId, a))))
    .limit(1);
  return rows.length > 0;
}

/** True when `viewerId` is in `ownerId`'s contacts. */
export async function isInContactsOf(db: DbOrTx, ownerId: number, viewerId: number): Promise<boolean> {
  const rows = await db
    .select({ one: contacts.userId })
    .from(contacts)
    .where(and(eq(contacts.userId, ownerId), eq(contacts.contactId, viewerId)))
    .limit(1);
  return rows.length > 0;
}
