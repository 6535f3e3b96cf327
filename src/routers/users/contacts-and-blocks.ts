/**
 * The caller's contacts and blocks (CONTRACT §4): adding and removing are idempotent; the caller
 * themself is 422, an unknown user 404. Both lists are per-user and small, so they are not paged.
 * Each change decides what the target may see of the caller (avatar, presence), so the target's
 * private chat with the caller is told (tellCounterparts) when the change is real.
 */
import { and, asc, desc, eq, sql } from "drizzle-orm";
import type { App } from "../../app";
import type { DbOrTx, Tx } from "../../db/client";
import { transact } from "../../db/transact";
import { tellCounterparts } from "./counterparts";
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

/**
 * One change of the caller's relation to the target (`write` answers the rows it changed): when
 * something changed, the target's private chat with the caller shows them what they may now see.
 */
async function changeRelation(app: App, callerId: number, targetId: number, selfMessage: string, write: (tx: Tx) => Promise<unknown[]>): Promise<void> {
  await requireOtherUser(app.db, callerId, targetId, selfMessage);
  await transact(app, async (tx, events) => {
    if ((await write(tx)).length > 0) await tellCounterparts(app, tx, events, callerId, targetId);
  });
}

export function addContact(app: App, callerId: number, targetId: number): Promise<void> {
  return changeRelation(app, callerId, targetId, "You cannot add yourself to your contacts", (tx) =>
    tx.insert(contacts).values({ userId: callerId, contactId: targetId }).onConflictDoNothing().returning(),
  );
}

/** Unknown email: 404 (the caller supplied the address, so this reveals nothing they lack). */
export async function addContactByEmail(app: App, callerId: number, email: string): Promise<void> {
  const rows = await app.db.select({ id: users.id }).from(users).where(eq(users.email, email)).limit(1);
  const target = rows[0];
  if (!target) throw notFound(USER_NOT_FOUND);
  await addContact(app, callerId, target.id);
}

export function removeContact(app: App, callerId: number, targetId: number): Promise<void> {
  return changeRelation(app, callerId, targetId, "You cannot remove yourself from your contacts", (tx) =>
    tx.delete(contacts).where(and(eq(contacts.userId, callerId), eq(contacts.contactId, targetId))).returning(),
  );
}

export function blockUser(app: App, callerId: number, targetId: number): Promise<void> {
  return changeRelation(app, callerId, targetId, "You cannot block yourself", (tx) =>
    tx.insert(blocks).values({ userId: callerId, blockedId: targetId }).onConflictDoNothing().returning(),
  );
}

export function unblockUser(app: App, callerId: number, targetId: number): Promise<void> {
  return changeRelation(app, callerId, targetId, "You cannot unblock yourself", (tx) =>
    tx.delete(blocks).where(and(eq(blocks.userId, callerId), eq(blocks.blockedId, targetId))).returning(),
  );
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
