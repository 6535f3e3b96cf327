/**
 * The one function that decides what viewer V may see of user U (CONTRACT §4): avatar, presence
 * (last seen / online) and whether V may add U to a group or channel. Every read path uses it.
 *
 * `contacts` means: V is in U's contacts (U added V), not the reverse.
 */
import { and, eq, inArray } from "drizzle-orm";
import type { DbOrTx } from "../../db/client";
import { contacts, type PrivacyLevel } from "../../db/schema";

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

export interface PrivacySubject {
  id: number;
  avatarUrl: string | null;
  privacyAvatar: PrivacyLevel;
  privacyLastSeen: PrivacyLevel;
  privacyGroupInvites: PrivacyLevel;
}

export interface VisibleToViewer {
  avatarUrl: string | null;
  canSeePresence: boolean;
  canInvite: boolean;
}

/** What `viewerId` may see of each subject; `listed` from `ownersWhoListViewer`. */
export function visibleTo(viewerId: number, subject: PrivacySubject, listed: Set<number>): VisibleToViewer {
  const self = subject.id === viewerId;
  const inContacts = listed.has(subject.id);
  return {
    avatarUrl: allows(subject.privacyAvatar, self, inContacts) ? subject.avatarUrl : null,
    canSeePresence: allows(subject.privacyLastSeen, self, inContacts),
    canInvite: allows(subject.privacyGroupInvites, self, inContacts),
  };
}
