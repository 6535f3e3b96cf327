/** The caller's own profile and another user's, as the caller may see it (CONTRACT §4). */
import { and, eq, ne, sql } from "drizzle-orm";
import type { App } from "../../app";
import type { DbOrTx, Tx } from "../../db/client";
import type { EventSink } from "../../realtime/event-log";
import { transact } from "../../db/transact";
import { users } from "../../db/schema";
import { conflict, notFound } from "../../errors";
import { userCardsFor } from "./cards";
import type { TUserProfileUpdate, TUserRead } from "./schemas";
import { isUniqueViolation } from "../../db/errors";
import { tellCounterparts } from "./counterparts";

/** Fields that show on the other side of the user's private chats (tellCounterparts). */
const SHOWN_TO_COUNTERPARTS = ["name", "username", "avatarUrl", "privacyAvatar", "privacyLastSeen"] as const;

export const USER_NOT_FOUND = "User not found";

/** UserRead of `userId` as `viewerId` sees it; 404 when there is no such user. */
export async function getUserAs(db: DbOrTx, viewerId: number, userId: number): Promise<TUserRead> {
  const card = (await userCardsFor(db, viewerId, [userId])).get(userId);
  if (!card) throw notFound(USER_NOT_FOUND);
  return card.profile;
}

/**
 * Applies the fields present in `input`; email is not editable here (it is not in the schema).
 * A change that shows in the user's private chats is told to the counterparts.
 */
export async function updateProfile(app: App, userId: number, input: TUserProfileUpdate): Promise<TUserRead> {
  return transact(app, (tx, events) => updateProfileIn(app, tx, events, userId, input));
}

async function updateProfileIn(app: App, db: Tx, events: EventSink, userId: number, input: TUserProfileUpdate): Promise<TUserRead> {
  const changes: Partial<typeof users.$inferInsert> = {};
  if (input.name !== undefined) changes.name = input.name.trim();
  if (input.username !== undefined) {
    const taken = await db
      .select({ id: users.id })
      .from(users)
      .where(and(sql`lower(${users.username}) = lower(${input.username})`, ne(users.id, userId)))
      .limit(1);
    if (taken.length) throw conflict("Username already taken");
    changes.username = input.username;
  }
  if (input.bio !== undefined) changes.bio = input.bio;
  if (input.avatar_url !== undefined) changes.avatarUrl = input.avatar_url;
  if (input.allow_private_messages !== undefined) changes.allowPrivateMessages = input.allow_private_messages;
  if (input.privacy_avatar !== undefined) changes.privacyAvatar = input.privacy_avatar;
  if (input.privacy_last_seen !== undefined) changes.privacyLastSeen = input.privacy_last_seen;
  if (input.privacy_group_invites !== undefined) changes.privacyGroupInvites = input.privacy_group_invites;
  if (Object.keys(changes).length > 0) {
    const [before] = await db.select().from(users).where(eq(users.id, userId)).for("update");
    try {
      await db
        .update(users)
        .set({ ...changes, updatedAt: new Date() })
        .where(eq(users.id, userId));
    } catch (err) {
      // A concurrent rename won the unique index on lower(username).
      if (isUniqueViolation(err)) throw conflict("Username already taken");
      throw err;
    }
    if (before && SHOWN_TO_COUNTERPARTS.some((k) => changes[k] !== undefined && changes[k] !== before[k])) await tellCounterparts(app, db, events, userId);
  }
  return getUserAs(db, userId, userId);
}
