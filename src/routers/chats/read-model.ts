/**
 * ChatRead as one viewer sees it (CONTRACT §5), for any number of chats in one statement plus
 * presence: per chat, the base row with the last visible message (one lateral index step), unread
 * and mention counts (from message positions: unread.ts) and the private counterpart with
 * their privacy; online_count and counterpart_is_online come from presence asked about the page's
 * members only (`onlinePresenceOf`), and the counterparts' last_seen_at is read after it.
 *
 * Everything per user (flags, marks, clear point) lives on the viewer's chat_members row, so
 * nothing here scans a chat's history or its member list.
 *
 * The statement is driven by the list of chat ids (one array parameter, or the chat list's own page
 * query), never by the viewer's memberships: PostgreSQL caches one generic plan per prepared
 * statement, and a plan driven by `user_id = $1` assumes every user is in two chats (it took 4 ms
 * instead of 0.5 for a user in 1,000 chats).
 */
import { sql, type SQL } from "drizzle-orm";
import type { App } from "../../app";
import { queryRows, type DbOrTx } from "../../db/client";
import { intArray } from "../../db/sql-fragments";
import type { ChatRole, ChatType, MessageType, PrivacyLevel } from "../../db/schema";
import { isoFromDriver, isoFromDriverOrNull } from "../../lib/pg-timestamp";
import { allOnlineUserIds, onlineUserCount, onlineUserIds } from "../../realtime/presence";
import { isUnavailableOrWraps } from "../../trpc";
import { visibleMessageSql } from "../messages/access";
import { userCardsFor } from "../users/cards";
import { visibleTo } from "../users/privacy";
import type { TChatRead } from "./schemas";
import { unreadCountsQuery } from "./unread";

export const SAVED_CHAT_TITLE = "Saved Messages";
export const DELETED_ACCOUNT_NAME = "Deleted Account";

type Raw = string | number | null;

interface ChatReadRow {
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
  unread: Raw;
  mentions: Raw;
  /** The private counterpart (null columns when none). */
  cp_id: number | null;
  cp_name: string | null;
  cp_username: string | null;
  cp_avatar_url: string | null;
  cp_privacy_avatar: PrivacyLevel | null;
  cp_privacy_last_seen: PrivacyLevel | null;
  cp_privacy_group_invites: PrivacyLevel | null;
  cp_listed: boolean | null;
  cp_blocked_viewer: boolean | null;
}

const toNumOrNull = (v: Raw): number | null => (v === null ? null : Number(v));

export interface ChatReadOptions {
  /** Also answer chats the viewer is not a member of (a public chat seen from outside). */
  includeNonMember?: boolean;
}

/** ChatReads of `chatIds` for `viewerId`, in the given order; chats not visible are left out. */
export async function loadChatReads(app: App, db: DbOrTx, viewerId: number, chatIds: number[], opts: ChatReadOptions = {}): Promise<TChatRead[]> {
  const ids = [...new Set(chatIds)];
  if (ids.length === 0) return [];
  return loadChatReadsOf(app, db, viewerId, sql`select id, ord from unnest(${intArray(ids)}::int[]) with ordinality as i(id, ord)`, opts);
}

/** The one statement behind `loadChatReadsOf`: each chat with the viewer's membership, last message, counters and counterpart. */
export function chatReadsStatement(viewerId: number, source: SQL, opts: ChatReadOptions = {}): SQL {
  const membershipJoin = opts.includeNonMember ? sql`left join` : sql`join`;
  return sql`select c.id, c.public_id, c.type, c.title, c.avatar_url, c.handle, c.description, c.is_public, c.is_saved,
             case when exists (select 1 from messages pm where pm.chat_id = c.id and pm.id = c.pinned_message_id
                    and ${visibleMessageSql("pm", sql`${viewerId}`, sql`cm.cleared_before_message_id`)})
                  then c.pinned_message_id end as pinned_message_id,
             c.members_count, c.created_at, cm.role, cm.archived, cm.pinned_at,
             lm.text as lm_text, lm.type as lm_type, lm.created_at as lm_created_at,
             u.unread, u.mentions,
             cp.id as cp_id, cp.name as cp_name, cp.username as cp_username, cp.avatar_url as cp_avatar_url,
             cp.privacy_avatar as cp_privacy_avatar, cp.privacy_last_seen as cp_privacy_last_seen,
             cp.privacy_group_invites as cp_privacy_group_invites,
             cp.listed as cp_listed, cp.blocked_viewer as cp_blocked_viewer
      from (${source}) i
      join chats c on c.id = i.id
      -- A lateral with a limit stays a primary-key step per chat whatever the plan.
      ${membershipJoin} lateral (
        select cm.role, cm.archived, cm.pinned_at, cm.cleared_before_message_id, cm.last_read_message_id from chat_members cm
        where cm.chat_id = c.id and cm.user_id = ${viewerId} limit 1
      ) cm on true
      -- The last message and the pin as the viewer may see them (CONTRACT §6); without a membership
      -- (a public chat seen from outside) the comparison with the clear point is NULL: none.
      left join lateral (
        select m.text, m.type, m.created_at from messages m
        where m.chat_id = c.id and ${visibleMessageSql("m", sql`${viewerId}`, sql`cm.cleared_before_message_id`)}
        order by m.id desc limit 1
      ) lm on true
      -- Members only (no membership: no mark, nothing counted). Positions, not rows (unread.ts).
      left join lateral (${unreadCountsQuery({
        chatId: sql`c.id`,
        messageCount: sql`c.message_count`,
        userId: sql`${viewerId}::int`,
        mark: sql`greatest(cm.last_read_message_id, cm.cleared_before_message_id)`,
      })}) u on true
      -- The counterpart's id first, then their row by primary key. With the limit over the join the
      -- planner merged the chat's members with users in id order, walking users_pkey from the first
      -- user up to the counterpart; with a bare limit it may scan chat_members until a row of the
      -- chat turns up. Ordered by user_id, only the (chat_id, user_id) key serves it without a sort.
      left join lateral (
        select ou.id, ou.name, ou.username, ou.avatar_url, ou.privacy_avatar, ou.privacy_last_seen, ou.privacy_group_invites,
               exists (select 1 from contacts ct where ct.user_id = ou.id and ct.contact_id = ${viewerId}) as listed,
               exists (select 1 from blocks b where b.user_id = ou.id and b.blocked_id = ${viewerId}) as blocked_viewer
        from (
          select o.user_id from chat_members o
          where c.type = 'private' and not c.is_saved and o.chat_id = c.id and o.user_id <> ${viewerId}
          order by o.user_id
          limit 1
        ) o
        join users ou on ou.id = o.user_id
      ) cp on true
      order by i.ord`;
}

/**
 * ChatReads of the chats `source` yields as `(id, ord)` rows, ordered by `ord`; chats not visible
 * are left out.
 */
export async function loadChatReadsOf(app: App, db: DbOrTx, viewerId: number, source: SQL, opts: ChatReadOptions = {}): Promise<TChatRead[]> {
  const reads = queryRows<ChatReadRow>(db, chatReadsStatement(viewerId, source, opts));
  // The count of users online in parallel with the statement: with nobody online presence is done.
  const [rows, onlineTotal] = await Promise.all([reads, onlineUserCount(app).catch(presenceDown(app, 0))]);
  const presence = await onlinePresenceOf(app, db, viewerId, rows, onlineTotal);
  const lastSeen = await counterpartsLastSeen(db, rows);

  const out: TChatRead[] = [];
  for (const b of rows) {
    const id = Number(b.id);
    const isPrivate = b.type === "private" && !b.is_saved;
    const cp =
      isPrivate && b.cp_id !== null
        ? {
            id: Number(b.cp_id),
            name: b.cp_name ?? "",
            username: b.cp_username ?? "",
            avatarUrl: b.cp_avatar_url,
            lastSeenAt: lastSeen.get(Number(b.cp_id)) ?? null,
            blockedViewer: Boolean(b.cp_blocked_viewer),
            view: visibleTo(
              viewerId,
              {
                id: Number(b.cp_id),
                avatarUrl: b.cp_avatar_url,
                privacyAvatar: b.cp_privacy_avatar as PrivacyLevel,
                privacyLastSeen: b.cp_privacy_last_seen as PrivacyLevel,
                privacyGroupInvites: b.cp_privacy_group_invites as PrivacyLevel,
              },
              new Set(b.cp_listed ? [Number(b.cp_id)] : []),
            ),
          }
        : undefined;
    // A user who blocked the viewer shows them neither avatar nor presence.
    const cpAvatar = cp && !cp.blockedViewer ? cp.view.avatarUrl : null;
    const cpPresence = Boolean(cp && cp.view.canSeePresence && !cp.blockedViewer);
    const displayTitle = b.is_saved ? SAVED_CHAT_TITLE : isPrivate ? (cp?.name ?? DELETED_ACCOUNT_NAME) : (b.title ?? "");
    out.push({
      id,
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
      unread_count: Number(b.unread ?? 0),
      unread_mentions_count: Number(b.mentions ?? 0),
      pinned_message_id: toNumOrNull(b.pinned_message_id),
      members_count: b.members_count,
      online_count: presence.countByChat.get(id) ?? 0,
      subscribers_count: b.type === "channel" ? b.members_count : null,
      counterpart_user_id: isPrivate ? (cp?.id ?? null) : null,
      counterpart_name: isPrivate ? (cp?.name ?? null) : null,
      counterpart_username: isPrivate ? (cp?.username ?? null) : null,
      counterpart_avatar_url: isPrivate ? cpAvatar : null,
      counterpart_is_online: isPrivate && cp && cpPresence ? presence.online.has(cp.id) : null,
      counterpart_last_seen_at: isPrivate && cp && cpPresence ? isoFromDriverOrNull(cp.lastSeenAt) : null,
      last_message_text: b.lm_text,
      last_message_type: b.lm_type,
      last_message_created_at: isoFromDriverOrNull(b.lm_created_at),
      my_role: b.role,
      created_at: isoFromDriver(b.created_at),
    });
  }
  return out;
}

/**
 * Presence lives in the broker. While it is down the chat views still answer, with nobody online
 * (every lease lapses within PRESENCE_LEASE_SECONDS anyway); other errors are thrown on.
 */
const presenceDown =
  <T>(app: App, nobody: T) =>
  (err: unknown): T => {
    if (!isUnavailableOrWraps(err)) throw err;
    app.log.warn("chat view without presence: broker unavailable", { error: String(err) });
    return nobody;
  };

interface PagePresence {
  /**
   * Online members per chat whose presence the viewer may see (chats with none are missing): a
   * count that included the others would tell what their privacy hides (a pair, a small group, a
   * public group whose members anyone can list).
   */
  countByChat: Map<number, number>;
  /** The online members of those chats (counterparts among them). */
  online: Set<number>;
}

/**
 * Who of the page's members is online, asked the cheaper way round: nothing when nobody is online;
 * about the page's members (their memberships, then one broker round trip) when they are no more
 * than the users online, the usual case; else the whole online set, matched against the page's
 * memberships in SQL (a page with a 10,000-member channel while few are online). Reading the whole
 * set on every call cost the benchmark's chat list (user 1, 1,000 chats) 5.6 ms of server CPU at
 * 10,000 users online; asked this way, 3.0 ms (0.78 ms instead of 0.88 with nobody online).
 */
async function onlinePresenceOf(app: App, db: DbOrTx, viewerId: number, rows: ChatReadRow[], onlineTotal: number): Promise<PagePresence> {
  const presence: PagePresence = { countByChat: new Map(), online: new Set() };
  if (onlineTotal === 0 || rows.length === 0) return presence;
  const chatIds = intArray(rows.map((r) => Number(r.id)));
  const pageMembers = rows.reduce((n, r) => n + Number(r.members_count), 0);
  let memberships: { chat_id: number; user_id: number }[];
  if (pageMembers <= onlineTotal) {
    memberships = await queryRows(db, sql`select chat_id, user_id from chat_members where chat_id = any(${chatIds}::int[])`);
    const online = await onlineUserIds(app, memberships.map((m) => Number(m.user_id))).catch(presenceDown(app, new Set<number>()));
    memberships = memberships.filter((m) => online.has(Number(m.user_id)));
  } else {
    const online = await allOnlineUserIds(app).catch(presenceDown(app, [] as number[]));
    if (online.length === 0) return presence;
    memberships = await queryRows(
      db,
      sql`select chat_id, user_id from chat_members where chat_id = any(${chatIds}::int[]) and user_id = any(${intArray(online)}::int[])`,
    );
  }
  for (const m of memberships) presence.online.add(Number(m.user_id));
  // Whose presence the viewer may see: the users' cards, one query (privacy and blocks).
  const cards = await userCardsFor(db, viewerId, [...presence.online]);
  for (const m of memberships) {
    if (!cards.get(Number(m.user_id))?.canSeePresence) continue;
    const chatId = Number(m.chat_id);
    presence.countByChat.set(chatId, (presence.countByChat.get(chatId) ?? 0) + 1);
  }
  return presence;
}

/**
 * `last_seen_at` of the page's private-chat counterparts, read after presence. A disconnect writes
 * `last_seen_at` before it drops the lease, so only a read that follows the presence lookup is
 * sure to see the value of the session that just ended; read with the page, it could predate it
 * (null for a first session), which showed a user offline and never seen.
 */
async function counterpartsLastSeen(db: DbOrTx, rows: ChatReadRow[]): Promise<Map<number, Date | string | null>> {
  // The page statement fills cp_id for private chats only.
  const ids = [...new Set(rows.flatMap((r) => (r.cp_id === null ? [] : [Number(r.cp_id)])))];
  const out = new Map<number, Date | string | null>();
  if (ids.length === 0) return out;
  const fresh = await queryRows<{ id: number; last_seen_at: Date | string | null }>(db, sql`select id, last_seen_at from users where id = any(${intArray(ids)}::int[])`);
  for (const u of fresh) out.set(Number(u.id), u.last_seen_at);
  return out;
}

/** Chats the viewer is a member of, as ChatRead, order preserved (realtime personalisation, search). */
export function chatReadsFor(app: App, viewerId: number, chatIds: number[]): Promise<TChatRead[]> {
  return loadChatReads(app, app.db, viewerId, chatIds);
}
