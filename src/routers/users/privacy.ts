/**
 * The one function that decides what viewer V may see of user U (CONTRACT §4): avatar, presence
 * (last seen / online), email, and whether V may add U to a group or channel. Every read path uses it.
 *
 * `contacts` means: V is in U's contacts (U added V), not the reverse.
 * A user who blocked V shows V nothing beyond their name: it counts as `nobody` for every setting.
 */
import { and, eq, inArray } from "drizzle-orm";
import type { DbOrTx } from "../../db/client";
import { blocks, contacts, type PrivacyLevel } from "../../db/schema";

export function allows(level: PrivacyLevel, viewerIsSelf: boolean, viewerInOwnersContacts: boolean): boolean {
  if (viewerIsSelf) return true;
  if (level === "everyone") return true;
  if (level === "contacts") return viewerInOwnersContacts;
  return false;
}

/** Ids among `ownerIds` whose contact list contains `viewerId`. One query. */
export async function ownersWhoListViewer(db: DbOrTx, viewerId: number, ownerIds: number[]): Promise<Set<number>> {
  if (ownerIds.length === 0) return new Set();
  const rows = await db
    .select({ owner: contacts.userId })
    .from(contacts)
    .where(and(eq(contacts.contactId, viewerId), inArray(contacts.userId, ownerIds)));
  return new Set(rows.map((r) => r.owner));
}

/** Ids among `ownerIds` who have blocked `viewerId`. One query. */
export async function ownersWhoBlockedViewer(db: DbOrTx, viewerId: number, ownerIds: number[]): Promise<Set<number>> {
  if (ownerIds.length === 0) return new Set();
  const rows = await db
    .select({ owner: blocks.userId })
    .from(blocks)
    .where(and(eq(blocks.blockedId, viewerId), inArray(blocks.userId, ownerIds)));
  return new Set(rows.map((r) => r.owner));
}

export interface PrivacySubject {
  id: number;
  avatarUrl: string | null;
  privacyAvatar: PrivacyLevel;
  privacyLastSeen: PrivacyLevel;
  privacyGroupInvites: PrivacyLevel;
  /** When given, `visibleTo` answers whether the viewer may see it (see docs/decisions.md, Users). */
  email?: string;
}

export interface VisibleToViewer {
  avatarUrl: string | null;
  canSeePresence: boolean;
  canInvite: boolean;
  /** The subject's email when given and the viewer is themself or in the subject's contacts. */
  email: string | null;
}

/**
 * What `viewerId` may see of each subject; `listed` from `ownersWhoListViewer`, `blockedViewer`
 * (optional) from `ownersWhoBlockedViewer`.
 */
export function visibleTo(viewerId: number, subject: PrivacySubject, listed: Set<number>, blockedViewer?: Set<number>): VisibleToViewer {
  const self = subject.id === viewerId;
  const shut = !self && Boolean(blockedViewer?.has(subject.id));
  const inContacts = listed.has(subject.id);
  const may = (level: PrivacyLevel) => !shut && allows(level, self, inContacts);
  return {
    avatarUrl: may(subject.privacyAvatar) ? subject.avatarUrl : null,
    canSeePresence: may(subject.privacyLastSeen),
    canInvite: may(subject.privacyGroupInvites),
    email: subject.email !== undefined && may("contacts") ? subject.email : null,
  };
}
