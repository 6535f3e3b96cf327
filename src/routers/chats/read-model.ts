/**
 * ChatRead as one viewer sees it (CONTRACT §5), for any number of chats in a fixed number of
 * queries: base rows with the last visible message (one lateral index step per chat), unread and
 * mention counts (an index range scan above each read mark), private counterparts with their
 * privacy, and member ids of small chats for online_count; then one presence lookup.
 *
 * Everything per user (flags, marks, clear point) lives on the viewer's chat_members row, so
 * nothing here scans a chat's history or its member list: online_count probes the membership index
 * once per online user and chat.
 */
import { sql, type SQL } from "drizzle-orm";
import type { App } from "../../app";
import { queryRows, type DbOrTx } from "../../db/client";
import { idList } from "../../db/sql-fragments";
import type { ChatRole, ChatType, MessageType, PrivacyLevel } from "../../db/schema";
import { iso, isoOrNull } from "../../lib/time";
import { allOnlineUserIds } from "../../realtime/presence";
import { visibleTo } from "../users/privacy";
import type { TChatRead } from "./schemas";

export const SAVED_CHAT_TITLE = "Saved Messages";
export const DELETED_ACCOUNT_NAME = "Deleted Account";
/** Above this many members online_count is not computed (0): presence per member would not scale. */

type Raw = string | number | null;

interface BaseRow {
  id: number;
  public_id: string;
  type: ChatType;
  title: string | null;
  avatar_url: string | null;
  handle: string | null;
  description: string | null;
  is_public: boolean;
  is_saved: boolean;
  pinned_message_id: Raw;
  members_count: number;
  created_at: Date | string;
  role: ChatRole | null;
  archived: boolean | null;
  pinned_at: Date | string | null;
  lm_text: string | null;
  lm_type: MessageType | null;
  lm_created_at: Date | string | null;
}

interface CountRow {
  chat_id: number;
  unread: Raw;
  mentions: Raw;
}

interface CounterpartRow {
  chat_id: number;
  id: number;
  name: string;
  username: string;
  avatar_url: string | null;
  privacy_avatar: PrivacyLevel;
  privacy_last_seen: PrivacyLevel;
  privacy_group_invites: PrivacyLevel;
  last_seen_at: Date | string | null;
  listed: boolean;
  blocked_viewer: boolean;
}

const toDate = (v: Date | string): Date => (v instanceof Date ? v : new Date(v));
const toDateOrNull = (v: Date | string | null): Date | null => (v === null ? null : toDate(v));
const toNumOrNull = (v: Raw): number | null => (v === null ? null : Number(v));

/**
 * One array parameter instead of a list of them: the online set changes size all the time, and
 * every distinct list length would be another prepared statement.
 */
const intArrayLiteral = (ids: number[]): string => `{${ids.filter((id) => Number.isSafeInteger(id)).join(",")}}`;

export interface ChatReadOptions {
  /** Also answer chats the viewer is not a member of (a public chat seen from outside). */
  includeNonMember?: boolean;
}

/** ChatReads of `chatIds` for `viewerId`, in the given order; chats not visible are left out. */
export async function loadChatReads(app: App, db: DbOrTx, viewerId: number, chatIds: number[], opts: ChatReadOptions = {}): Promise<TChatRead[]> {
  const ids = [...new Set(chatIds)];
  if (ids.length === 0) return [];
  const membershipJoin = opts.includeNonMember ? sql`left join` : sql`join`;
  const base = await queryRows<BaseRow>(
    db,
    sql`select c.id, c.public_id, c.type, c.title, c.avatar_url, c.handle, c.description, c.is_public, c.is_saved,
               case when exists (select 1 from messages pm where pm.chat_id = c.id and pm.id = c.pinned_message_id and pm.deleted_at is null)
                    then c.pinned_message_id end as pinned_message_id,
               c.members_count, c.created_at, cm.role, cm.archived, cm.pinned_at,
               lm.text as lm_text, lm.type as lm_type, lm.created_at as lm_created_at
        from chats c
        ${membershipJoin} chat_members cm on cm.chat_id = c.id and cm.user_id = ${viewerId}
        left join lateral (
          select m.text, m.type, m.created_at from messages m
          where m.chat_id = c.id and m.id > coalesce(cm.cleared_before_message_id, 0) and m.deleted_at is null
            and not exists (select 1 from message_hides h where h.chat_id = m.chat_id and h.user_id = ${viewerId} and h.message_id = m.id)
          order by m.id desc limit 1
        ) lm on true
        where c.id in (${idList(ids)})`,
  );
  if (base.length === 0) return [];
  const memberChatIds = base.filter((b) => b.role !== null).map((b) => b.id);
  const privateIds = base.filter((b) => b.type === "private" && !b.is_saved).map((b) => b.id);
  const countedIds = base.filter((b) => !b.is_saved).map((b) => b.id);
  const onlineNow = countedIds.length ? await allOnlineUserIds(app) : [];

  const [counts, counterparts, onlineCounts] = await Promise.all([
    memberChatIds.length
      ? queryRows<CountRow>(
          db,
          // LATERAL makes each chat's count an index range scan of (chat_id, id) above the mark;
          // as a plain join the planner prefers a scan of every message.
          sql`select cm.chat_id, u.unread, u.mentions
              from chat_members cm
              cross join lateral (
                select count(*) as unread, count(mm.message_id) as mentions
                from messages m
                left join message_mentions mm on mm.chat_id = m.chat_id and mm.user_id = ${viewerId} and mm.message_id = m.id
                where m.chat_id = cm.chat_id and m.id > greatest(cm.last_read_message_id, cm.cleared_before_message_id)
                  and m.sender_id <> ${viewerId} and m.deleted_at is null
                  and not exists (select 1 from message_hides h where h.chat_id = m.chat_id and h.user_id = ${viewerId} and h.message_id = m.id)
              ) u
              where cm.user_id = ${viewerId} and cm.chat_id in (${idList(memberChatIds)}) and u.unread > 0`,
        )
      : Promise.resolve([]),
    privateIds.length
      ? queryRows<CounterpartRow>(
          db,
          sql`select o.chat_id, u.id, u.name, u.username, u.avatar_url, u.privacy_avatar, u.privacy_last_seen,
                     u.privacy_group_invites, u.last_seen_at,
                     exists (select 1 from contacts ct where ct.user_id = u.id and ct.contact_id = ${viewerId}) as listed,
                     exists (select 1 from blocks b where b.user_id = u.id and b.blocked_id = ${viewerId}) as blocked_viewer
              from chat_members o join users u on u.id = o.user_id
              where o.chat_id in (${idList(privateIds)}) and o.user_id <> ${viewerId}`,
        )
      : Promise.resolve([]),
    onlineNow.length && countedIds.length
      ? queryRows<{ chat_id: number; online: number | string }>(
          db,
          sql`select chat_id, count(*) as online from chat_members
              where chat_id in (${idList(countedIds)}) and user_id = any(${intArrayLiteral(onlineNow)}::int[])
              group by chat_id`,
        )
      : Promise.resolve([]),
  ]);

  const countsByChat = new Map(counts.map((c) => [Number(c.chat_id), c]));
  const counterpartByChat = new Map(counterparts.map((c) => [Number(c.chat_id), c]));
  const onlineByChat = new Map(onlineCounts.map((r) => [Number(r.chat_id), Number(r.online)]));
  const online = new Set(onlineNow);

  const byId = new Map(base.map((b) => [Number(b.id), b]));
  const out: TChatRead[] = [];
  for (const id of ids) {
    const b = byId.get(id);
    if (!b) continue;
    const count = countsByChat.get(id);
    const cp = b.type === "private" && !b.is_saved ? counterpartByChat.get(id) : undefined;
    const cpView = cp
      ? visibleTo(
          viewerId,
          { id: cp.id, avatarUrl: cp.avatar_url, privacyAvatar: cp.privacy_avatar, privacyLastSeen: cp.privacy_last_seen, privacyGroupInvites: cp.privacy_group_invites },
          new Set(cp.listed ? [cp.id] : []),
        )
      : undefined;
    // A user who blocked the viewer shows them neither avatar nor presence.
    const cpAvatar = cp && cpView && !cp.blocked_viewer ? cpView.avatarUrl : null;
    const cpPresence = Boolean(cp && cpView?.canSeePresence && !cp.blocked_viewer);
    const isPrivate = b.type === "private" && !b.is_saved;
    const displayTitle = b.is_saved ? SAVED_CHAT_TITLE : isPrivate ? (cp?.name ?? DELETED_ACCOUNT_NAME) : (b.title ?? "");
    out.push({
      id: Number(b.id),
      public_id: b.public_id,
      type: b.type,
      title: b.title,
      avatar_url: b.avatar_url,
      display_title: displayTitle,
      handle: b.handle,
      description: b.description,
      is_public: b.is_public,
      is_saved: b.is_saved,
      archived: b.archived ?? false,
      pinned: b.pinned_at !== null,
      unread_count: Number(count?.unread ?? 0),
      unread_mentions_count: Number(count?.mentions ?? 0),
      pinned_message_id: toNumOrNull(b.pinned_message_id),
      members_count: b.members_count,
      online_count: onlineByChat.get(id) ?? 0,
      subscribers_count: b.type === "channel" ? b.members_count : null,
      counterpart_user_id: isPrivate ? (cp?.id ?? null) : null,
      counterpart_name: isPrivate ? (cp?.name ?? null) : null,
      counterpart_username: isPrivate ? (cp?.username ?? null) : null,
      counterpart_avatar_url: isPrivate ? cpAvatar : null,
      counterpart_is_online: isPrivate && cp && cpPresence ? online.has(cp.id) : null,
      counterpart_last_seen_at: isPrivate && cp && cpPresence ? isoOrNull(toDateOrNull(cp.last_seen_at)) : null,
      last_message_text: b.lm_text,
      last_message_type: b.lm_type,
      last_message_created_at: b.lm_created_at === null ? null : iso(toDate(b.lm_created_at)),
      my_role: b.role,
      created_at: iso(toDate(b.created_at)),
    });
  }
  return out;
}

/** Chats the viewer is a member of, as ChatRead, order preserved (realtime personalisation, search). */
export function chatReadsFor(app: App, viewerId: number, chatIds: number[]): Promise<TChatRead[]> {
  return loadChatReads(app, app.db, viewerId, chatIds);
}
