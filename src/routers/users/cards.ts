/**
 * Users as a viewer sees them: one query loads the rows together with the two relations privacy
 * depends on (is the viewer in their contacts, have they blocked the viewer), and `visibleTo`
 * decides every hidden field. All read paths of users go through here.
 */
import { inArray, sql } from "drizzle-orm";
import type { DbOrTx } from "../../db/client";
import { blocks, contacts, users } from "../../db/schema";
import { iso } from "../../lib/time";
import { visibleTo, type VisibleToViewer } from "./privacy";
import type { TUserRead, TUserSearchRead } from "./schemas";

const userColumns = {
  id: users.id,
  email: users.email,
  name: users.name,
  username: users.username,
  bio: users.bio,
  avatarUrl: users.avatarUrl,
  emailVerified: users.emailVerified,
  allowPrivateMessages: users.allowPrivateMessages,
  twofaEnabled: users.twofaEnabled,
  privacyAvatar: users.privacyAvatar,
  privacyLastSeen: users.privacyLastSeen,
  privacyGroupInvites: users.privacyGroupInvites,
  lastSeenAt: users.lastSeenAt,
  createdAt: users.createdAt,
  updatedAt: users.updatedAt,
};

export interface UserCard {
  /** UserRead as the viewer may see it (the caller's own carries the privacy settings). */
  profile: TUserRead;
  /** UserSearchRead as the viewer may see it. */
  summary: TUserSearchRead;
  canSeePresence: boolean;
  /** `users.last_seen_at`, or null when the viewer may not see presence. */
  lastSeenAt: Date | null;
  canInvite: boolean;
  /** The user has blocked the viewer. */
  blockedViewer: boolean;
}

type UserRow = { [K in keyof typeof userColumns]: (typeof users.$inferSelect)[K] };

export function selfRead(u: UserRow): TUserRead {
  return {
    ...sharedRead(u, { avatarUrl: u.avatarUrl, email: u.email }),
    twofa_enabled: u.twofaEnabled,
    privacy_avatar: u.privacyAvatar,
    privacy_last_seen: u.privacyLastSeen,
    privacy_group_invites: u.privacyGroupInvites,
  };
}

function sharedRead(u: UserRow, view: Pick<VisibleToViewer, "avatarUrl" | "email">): TUserRead {
  return {
    id: u.id,
    name: u.name,
    username: u.username,
    email: view.email,
    avatar_url: view.avatarUrl,
    bio: u.bio,
    email_verified: u.emailVerified,
    allow_private_messages: u.allowPrivateMessages,
    twofa_enabled: null,
    created_at: iso(u.createdAt),
    updated_at: iso(u.updatedAt),
  };
}

/** Cards of `userIds` as `viewerId` sees them; unknown ids are simply absent. One query. */
export async function userCardsFor(db: DbOrTx, viewerId: number, userIds: number[]): Promise<Map<number, UserCard>> {
  const ids = [...new Set(userIds)];
  const cards = new Map<number, UserCard>();
  if (ids.length === 0) return cards;
  const rows = await db
    .select({
      ...userColumns,
      listsViewer: sql<boolean>`exists (select 1 from ${contacts} where ${contacts.userId} = ${users.id} and ${contacts.contactId} = ${viewerId})`,
      blocksViewer: sql<boolean>`exists (select 1 from ${blocks} where ${blocks.userId} = ${users.id} and ${blocks.blockedId} = ${viewerId})`,
    })
    .from(users)
    .where(inArray(users.id, ids));
  for (const row of rows) {
    const listed = new Set(row.listsViewer ? [row.id] : []);
    const blockedViewer = new Set(row.blocksViewer ? [row.id] : []);
    const view = visibleTo(viewerId, row, listed, blockedViewer);
    const profile = row.id === viewerId ? selfRead(row) : sharedRead(row, view);
    cards.set(row.id, {
      profile,
      summary: { id: row.id, name: row.name, username: row.username, email: view.email, avatar_url: view.avatarUrl },
      canSeePresence: view.canSeePresence,
      lastSeenAt: view.canSeePresence ? row.lastSeenAt : null,
      canInvite: view.canInvite,
      blockedViewer: Boolean(row.blocksViewer),
    });
  }
  return cards;
}

/** `userCardsFor` in the order of `userIds`, as UserSearchRead (unknown ids dropped). */
export async function userSummariesFor(db: DbOrTx, viewerId: number, userIds: number[]): Promise<TUserSearchRead[]> {
  const cards = await userCardsFor(db, viewerId, userIds);
  return userIds.flatMap((id) => {
    const card = cards.get(id);
    return card ? [card.summary] : [];
  });
}
