/**
 * The caller's contacts and blocks (CONTRACT §4): adding and removing are idempotent; the caller
 * themself is 422, an unknown user 404. Both lists are per-user and small, so they are not paged.
 */
import { and, asc, desc, eq, sql } from "drizzle-orm";
import type { DbOrTx } from "../../db/client";
import { blocks, contacts, users } from "../../db/schema";
import { notFound, unprocessable } from "../../errors";
import { userSummariesFor } from "./cards";
import { USER_NOT_FOUND } from "./profile";
import type { TUserSearchRead } from "./schemas";

async function requireOtherUser(db: DbOrTx, callerId: number, targetId: number, selfMessage: string): Promise<void> {
  if (targetId === callerId) throw unprocessable(selfMessage);
  const rows = await db.select({ id: users.id }).from(users).where(eq(users.id, targetId)).limit(1);
  if (!rows.length) throw notFound(USER_NOT_FOUND);
}

export async function addContact(db: DbOrTx, callerId: number, targetId: number): Promise<void> {
  await requireOtherUser(db, callerId, targetId, "You cannot add yourself to your contacts");
  await db.insert(contacts).values({ userId: callerId, contactId: targetId }).onConflictDoNothing();
}

/** Unknown email: 404 (the caller supplied the address, so this reveals nothing they lack). */
export async function addContactByEmail(db: DbOrTx, callerId: number, email: string): Promise<void> {
  const rows = await db.select({ id: users.id }).from(users).where(eq(users.email, email)).limit(1);
  const target = rows[0];
  if (!target) throw notFound(USER_NOT_FOUND);
  await addContact(db, callerId, target.id);
}

export async function removeContact(db: DbOrTx, callerId: number, targetId: number): Promise<void> {
  await requireOtherUser(db, callerId, targetId, "You cannot remove yourself from your contacts");
  await db.delete(contacts).where(and(eq(contacts.userId, callerId), eq(contacts.contactId, targetId)));
}

export async function blockUser(db: DbOrTx, callerId: number, targetId: number): Promise<void> {
  await requireOtherUser(db, callerId, targetId, "You cannot block yourself");
  await db.insert(blocks).values({ userId: callerId, blockedId: targetId }).onConflictDoNothing();
}

export async function unblockUser(db: DbOrTx, callerId: number, targetId: number): Promise<void> {
  await requireOtherUser(db, callerId, targetId, "You cannot unblock yourself");
  await db.delete(blocks).where(and(eq(blocks.userId, callerId), eq(blocks.blockedId, targetId)));
}

/** The caller's contacts by name (case-insensitive), privacy applied. */
export async function listContacts(db: DbOrTx, callerId: number): Promise<TUserSearchRead[]> {
  const rows = await db
    .select({ id: contacts.contactId })
    .from(contacts)
    .innerJoin(users, eq(users.id, contacts.contactId))
    .where(eq(contacts.userId, callerId))
    .orderBy(asc(sql`lower(${users.name})`), asc(users.id));
  return userSummariesFor(
    db,
    callerId,
    rows.map((r) => r.id),
  );
}

/** Users the caller blocked, most recently blocked first, privacy applied. */
export async function listBlocked(db: DbOrTx, callerId: number): Promise<TUserSearchRead[]> {
  const rows = await db
    .select({ id: blocks.blockedId })
    .from(blocks)
    .where(eq(blocks.userId, callerId))
    .orderBy(desc(blocks.createdAt), desc(blocks.blockedId));
  return userSummariesFor(
    db,
    callerId,
    rows.map((r) => r.id),
  );
}
