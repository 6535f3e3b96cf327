/**
 * Message search: case-insensitive substring match, only chats the caller belongs to, honouring
 * their clear point and deletions; newest first. Takes the database handle so it can run on a read
 * replica.
 *
 * Two passes, each with one plan whatever the word:
 * 1. The recent window: the RECENT_WINDOW message ids below the caller's newest message (the
 *    highest `chats.last_message_id` of their chats, or the chat's own in a search inside one
 *    chat), walked newest first and stopped at `limit` matches. A common word is answered here
 *    after a few hundred rows. Anchored there, not at the newest message of the table: messages of
 *    other chats above it (a busy chat elsewhere) would otherwise fill the window with rows the
 *    caller cannot see.
 * 2. Only when the window held fewer than `limit` matches: the older ones through the trigram
 *    index `messages_chat_text_trgm` on (chat_id, lower(text)) (btree_gin + pg_trgm, on PostgreSQL
 *    and PGlite), which finds a rare word without reading the messages that do not contain it. In
 *    one chat, and for a caller in at most FEW_CHATS chats, the index is read chat by chat, so only
 *    the caller's matches are fetched; for a caller in more chats it is read once for the whole
 *    table (each per-chat read costs about 90 buffers for a common word: 1,000 chats read one by
 *    one cost more than the table's matches).
 * Every match of pass 1 is newer than every match of pass 2, so the concatenation is exactly the
 * single query's answer. Left to itself the planner chose between these per query from row
 * estimates, and a prepared statement's cached plan could keep the wrong one: the id walk for a rare
 * word reads the whole table, the trigram scan for a word in 4 % of messages sorts 40,000 rows
 * (44 to 159 ms on the 1M-message benchmark depending on the plan).
 */
import { sql, type SQL } from "drizzle-orm";
import { queryRows, type DbOrTx } from "../../db/client";
import { containsPattern, literalLimit } from "../../db/sql-fragments";
import { requireMember } from "../chats/access";
import { messageReadColumns, toMessageReadFromRow, type MessageReadRow } from "./read-model";
import type { TMessageRead } from "./schemas";

/** Message ids pass 1 reads at most (a few milliseconds of scanning). */
export const RECENT_WINDOW = 4096;

/** Callers in at most this many chats have pass 2 read the trigram index chat by chat. */
export const FEW_CHATS = 32;

/**
 * The caller's visibility of `messages m` through their membership, as a lateral step per message
 * (a limit keeps it a primary-key probe: never a plan driven by the caller's memberships).
 */
const visibleToCaller = (viewerId: number) => sql`
  cross join lateral (
    select cm.cleared_before_message_id from chat_members cm where cm.chat_id = m.chat_id and cm.user_id = ${viewerId} limit 1
  ) cm
  where m.id > cm.cleared_before_message_id and m.deleted_at is null
    and not exists (select 1 from message_hides h where h.chat_id = m.chat_id and h.user_id = ${viewerId} and h.message_id = m.id)`;

interface Search {
  viewerId: number;
  /** Trimmed, not empty. */
  query: string;
  limit: number;
}

export async function searchMessages(
  db: DbOrTx,
  viewerId: number,
  input: { query: string; chat_id?: number; limit: number },
): Promise<TMessageRead[]> {
  const query = input.query.trim();
  if (query.length === 0) return [];
  const search = { viewerId, query, limit: input.limit };
  if (input.chat_id === undefined) return searchCallerChats(db, search);
  await requireMember(db, input.chat_id, viewerId);
  return searchOneChat(db, search, input.chat_id);
}

async function searchCallerChats(db: DbOrTx, s: Search): Promise<TMessageRead[]> {
  // Every message of a chat has an id at or below its chats.last_message_id: the one statement
  // that inserts messages raises it in the same transaction (write-statement.ts).
  const window = sql`(
    select coalesce(max(c.last_message_id), 0) as top, coalesce(max(c.last_message_id), 0) - ${RECENT_WINDOW} as floor,
      count(*) as chats
    from chat_members cm join chats c on c.id = cm.chat_id where cm.user_id = ${s.viewerId})`;
  const recent = await recentPass(db, s, window, sql`m.id <= w.top`);
  if (recent.complete) return recent.found;
  // Pass 2 reads the index chat by chat for a caller in few chats, else once for the table.
  const hits =
    recent.chats <= FEW_CHATS
      ? olderMatchesChatByChat(s.viewerId, s.query, recent.floor)
      : sql`select m.id, m.chat_id, m.deleted_at from messages m
            where lower(m.text) like ${containsPattern(s.query)} and m.id <= ${recent.floor}`;
  return [...recent.found, ...(await olderPass(db, s, hits, s.limit - recent.found.length))];
}

/**
 * Matches at or below `floor` in the caller's chats, read from the trigram index one chat at a
 * time. `offset 0` keeps the lateral subquery a subquery: without it PostgreSQL flattened it into a
 * join and read every match in the table before keeping the caller's (50,000 matches in others'
 * chats: 106 ms for a caller with none).
 */
export const olderMatchesChatByChat = (viewerId: number, query: string, floor: number) => sql`
  select m.id, m.chat_id, m.deleted_at from chat_members cm
  cross join lateral (
    select m.id, m.chat_id, m.deleted_at from messages m
    where m.chat_id = cm.chat_id and lower(m.text) like ${containsPattern(query)} and m.id <= ${floor}
    offset 0
  ) m
  where cm.user_id = ${viewerId}`;

async function searchOneChat(db: DbOrTx, s: Search, chatId: number): Promise<TMessageRead[]> {
  // The window below the chat's newest message (see searchCallerChats), read through the primary
  // key or the id index: either plan is bounded by RECENT_WINDOW ids. (Its newest RECENT_WINDOW
  // messages instead, found with `order by id desc offset n`, got a generic plan reading the whole
  // chat through messages_reply_idx: 15,000 buffers for a busy chat.)
  const window = sql`(
    select coalesce(c.last_message_id, 0) as top, coalesce(c.last_message_id, 0) - ${RECENT_WINDOW} as floor, 1 as chats
    from chats c where c.id = ${chatId})`;
  const recent = await recentPass(db, s, window, sql`m.chat_id = ${chatId} and m.id <= w.top`);
  if (recent.complete) return recent.found;
  const hits = sql`select m.id, m.chat_id, m.deleted_at from messages m
    where m.chat_id = ${chatId} and lower(m.text) like ${containsPattern(s.query)} and m.id <= ${recent.floor}`;
  return [...recent.found, ...(await olderPass(db, s, hits, s.limit - recent.found.length))];
}

/**
 * Pass 1 over the messages above `w.floor` that `scope` admits, `window` being a one-row subquery
 * with `top`, `floor` and `chats` (the caller's chat count). strpos is the same "contains" as the
 * LIKE of pass 2 but no index serves it, so this is always the newest-first walk.
 */
async function recentPass(db: DbOrTx, s: Search, window: SQL, scope: SQL) {
  const rows = await queryRows<MessageReadRow & { floor: string | number; chats: string | number }>(
    db,
    sql`select w.floor, w.chats, ${messageReadColumns}
        from ${window} w
        left join lateral (
          select m.* from messages m
          ${visibleToCaller(s.viewerId)}
            and m.id > w.floor and ${scope} and strpos(lower(m.text), lower(${s.query})) > 0
          order by m.id desc
          limit ${literalLimit(s.limit)}
        ) m on true`,
  );
  const found = rows.filter((r) => r.id !== null).map(toMessageReadFromRow);
  const floor = Number(rows[0]?.floor ?? 0);
  return { found, floor, chats: Number(rows[0]?.chats ?? 0), complete: found.length >= s.limit || floor <= 0 };
}

/**
 * Pass 2: the older matches `hits` selects (materialized, so no plan walks the id index instead),
 * the caller's visibility, the newest `limit`; only those are read whole.
 */
async function olderPass(db: DbOrTx, s: Search, hits: SQL, limit: number): Promise<TMessageRead[]> {
  const rows = await queryRows<MessageReadRow>(
    db,
    sql`with hits as materialized (${hits}),
        page as (
          select m.id, m.chat_id from hits m
          ${visibleToCaller(s.viewerId)}
          order by m.id desc
          limit ${literalLimit(limit)}
        )
        select ${messageReadColumns}
        from page join messages m on m.chat_id = page.chat_id and m.id = page.id
        order by m.id desc`,
  );
  return rows.map(toMessageReadFromRow);
}
