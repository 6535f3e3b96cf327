/**
 * Read side of chats: the chat list, discover, detail, members, notification settings.
 * Reads take the database handle as an argument (`app.db` or a replica) through `app`.
 */
import { asc, eq, sql } from "drizzle-orm";
import type { App } from "../../app";
import { queryRows, type DbOrTx } from "../../db/client";
import { chatMembers } from "../../db/schema";
import { notFound, unprocessable } from "../../errors";
import { iso } from "../../lib/time";
import { CHAT_NOT_FOUND, requireMemberForAction, requireVisibleChat, type MemberRow } from "./access";
import { loadChatReads, loadChatReadsOf, SAVED_CHAT_TITLE } from "./read-model";
import type { TChatDetailRead, TChatDiscoverRead, TChatListQuery, TChatMemberRead, TChatNotificationSettingsRead, TChatRead } from "./schemas";
import { containsPattern, literalLimit } from "../../db/sql-fragments";

/** Detail pages list at most this many members; GET /chats/{id}/members is the full list. */
export const DETAIL_MEMBERS_LIMIT = 1000;

/** `%text%` for LIKE, with the user's own wildcards taken literally. */

/** One ChatRead; 404 unless the viewer may see the chat. */
export async function getChatRead(app: App, db: DbOrTx, viewerId: number, chatId: number): Promise<TChatRead> {
  const [chat] = await loadChatReads(app, db, viewerId, [chatId], { includeNonMember: true });
  if (!chat) throw notFound(CHAT_NOT_FOUND);
  return chat;
}

export type ListChatsOptions = Pick<TChatListQuery, "limit" | "before_id" | "query" | "archived">;

/**
 * The viewer's chat list (CONTRACT §5): pinned chats first (most recently pinned first), then by
 * last activity, newest first; chat id breaks ties so the order is total and `before_id` paging
 * visits every chat exactly once. One statement: the page of ids feeds the read model.
 *
 * The sort key is (pinned, pinned_at or last_activity_at, id), compared as a row value in SQL so
 * the cursor keeps PostgreSQL's microsecond precision.
 */
export async function listChats(app: App, viewerId: number, opts: ListChatsOptions): Promise<TChatRead[]> {
  const db = app.db;
  const sortKey = sql`(cm.pinned_at is not null)::int, coalesce(cm.pinned_at, c.last_activity_at), c.id`;
  const conditions = [
    sql`cm.user_id = ${viewerId}`,
    sql`cm.archived = ${opts.archived}`,
    // A private chat deleted "for me" stays away until a message newer than that moment arrives.
    sql`not (cm.hidden and coalesce(c.last_message_id, 0) <= cm.cleared_before_message_id)`,
  ];
  if (opts.before_id !== undefined) {
    const cursor = await queryRows<{ chat_id: number }>(
      db,
      sql`select chat_id from chat_members where chat_id = ${opts.before_id} and user_id = ${viewerId}`,
    );
    if (cursor.length === 0) throw unprocessable("before_id: not a chat in your list");
    conditions.push(sql`(${sortKey}) < (
      select (pm.pinned_at is not null)::int, coalesce(pm.pinned_at, pc.last_activity_at), pc.id
      from chat_members pm join chats pc on pc.id = pm.chat_id
      where pm.chat_id = ${opts.before_id} and pm.user_id = ${viewerId})`);
  }
  const text = opts.query?.trim().replace(/^@/, "") ?? "";
  if (text) {
    const pattern = containsPattern(text);
    conditions.push(sql`(
      lower(coalesce(c.title, '')) like ${pattern}
      or coalesce(c.handle, '') like ${pattern}
      or c.type = ${text.toLowerCase()}
      or (c.is_saved and lower(${SAVED_CHAT_TITLE}) like ${pattern})
      or (c.type = 'private' and not c.is_saved and exists (
        select 1 from chat_members o join users u on u.id = o.user_id
        where o.chat_id = c.id and o.user_id <> ${viewerId} and lower(u.name) like ${pattern})))`);
  }
  // The page of ids and their ChatReads in one statement. The limit sits right on the sort, so the
  // caller's memberships go through a top-N heapsort; numbering them in the same select put a
  // window aggregate in between and sorted every membership (0.3 of 3 ms for 1,000 chats).
  const page = sql`select p.id, row_number() over (order by p.pinned desc, p.activity desc, p.id desc) as ord
        from (
          select c.id, (cm.pinned_at is not null)::int as pinned, coalesce(cm.pinned_at, c.last_activity_at) as activity
          from chat_members cm join chats c on c.id = cm.chat_id
          where ${sql.join(conditions, sql` and `)}
          order by (cm.pinned_at is not null)::int desc, coalesce(cm.pinned_at, c.last_activity_at) desc, c.id desc
          limit ${literalLimit(opts.limit)}
        ) p`;
  return loadChatReadsOf(app, db, viewerId, page);
}

/** Public groups and channels by title or handle; biggest first. */
export async function discoverChats(app: App, viewerId: number, query: string | undefined, limit: number): Promise<TChatDiscoverRead[]> {
  const text = query?.trim().replace(/^@/, "") ?? "";
  const filter = text ? sql`and (lower(coalesce(c.title, '')) like ${containsPattern(text)} or coalesce(c.handle, '') like ${containsPattern(text)})` : sql``;
  const rows = await queryRows<{
    id: number;
    public_id: string;
    type: "group" | "channel";
    title: string | null;
    handle: string | null;
    description: string | null;
    avatar_url: string | null;
    members_count: number;
    is_member: boolean;
  }>(
    app.db,
    sql`select c.id, c.public_id, c.type, c.title, c.handle, c.description, c.avatar_url, c.members_count,
               exists (select 1 from chat_members cm where cm.chat_id = c.id and cm.user_id = ${viewerId}) as is_member
        from chats c
        where c.is_public and c.type <> 'private' ${filter}
        order by (lower(coalesce(c.handle, '')) = lower(${text})) desc, c.members_count desc, c.id desc
        limit ${limit}`,
  );
  return rows.map((r) => ({ ...r, id: Number(r.id), members_count: Number(r.members_count), is_member: Boolean(r.is_member) }));
}

export const toMemberRead = (m: MemberRow): TChatMemberRead => ({ id: m.id, user_id: m.userId, role: m.role, joined_at: iso(m.joinedAt) });

const ROLE_ORDER = sql`case ${chatMembers.role} when 'owner' then 0 when 'admin' then 1 else 2 end`;

async function memberRows(db: DbOrTx, chatId: number, limit?: number): Promise<MemberRow[]> {
  const q = db
    .select()
    .from(chatMembers)
    .where(eq(chatMembers.chatId, chatId))
    .orderBy(ROLE_ORDER, asc(chatMembers.joinedAt), asc(chatMembers.id));
  return limit === undefined ? q : q.limit(limit);
}

/** Owner first, then admins, then members, each by join time. */
export async function listMembers(app: App, viewerId: number, chatId: number): Promise<TChatMemberRead[]> {
  await requireVisibleChat(app.db, chatId, viewerId);
  return (await memberRows(app.db, chatId)).map(toMemberRead);
}

export async function getChatDetail(app: App, viewerId: number, chatId: number): Promise<TChatDetailRead> {
  await requireVisibleChat(app.db, chatId, viewerId);
  const [chat, members] = await Promise.all([getChatRead(app, app.db, viewerId, chatId), memberRows(app.db, chatId, DETAIL_MEMBERS_LIMIT)]);
  return { ...chat, members: members.map(toMemberRead) };
}

export async function getNotificationSettings(app: App, viewerId: number, chatId: number): Promise<TChatNotificationSettingsRead> {
  const { member } = await requireMemberForAction(app.db, chatId, viewerId);
  return { chat_id: chatId, user_id: viewerId, muted: member.muted };
}
