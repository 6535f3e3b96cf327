/**
 * Message search: case-insensitive substring match, only chats the caller belongs to, honouring
 * their clear point and deletions; newest first. Takes the database handle so it can run on a read
 * replica.
 *
 * Two passes, each with one plan whatever the word:
 * 1. The recent window: the newest RECENT_WINDOW messages (any chat), walked newest first on the id
 *    index and stopped at `limit` matches. A common word is answered here after a few hundred rows.
 * 2. Only when the window held fewer than `limit` matches: the older messages through the trigram
 *    index `messages_text_trgm` on lower(text) (pg_trgm, on PostgreSQL and PGlite), which finds a
 *    rare word without reading the messages that do not contain it.
 * Every match of pass 1 is newer than every match of pass 2, so the concatenation is exactly the
 * single query's answer. Left to itself the planner chose between these per query from row
 * estimates, and a prepared statement's cached plan could keep the wrong one: the id walk for a rare
 * word reads the whole table, the trigram scan for a word in 4 % of messages sorts 40,000 rows
 * (44 to 159 ms on the 1M-message benchmark depending on the plan).
 */
import { sql } from "drizzle-orm";
import { queryRows, type DbOrTx } from "../../db/client";
import { containsPattern, literalLimit } from "../../db/sql-fragments";
import { requireMember } from "../chats/access";
import { messageReadColumns, toMessageReadFromRow, type MessageReadRow } from "./read-model";
import type { TMessageRead } from "./schemas";

/** Newest message ids pass 1 reads at most (a few milliseconds of scanning). */
export const RECENT_WINDOW = 4096;

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

export async function searchMessages(
  db: DbOrTx,
  viewerId: number,
  input: { query: string; chat_id?: number; limit: number },
): Promise<TMessageRead[]> {
  const query = input.query.trim();
  if (query.length === 0) return [];
  if (input.chat_id !== undefined) await requireMember(db, input.chat_id, viewerId);
  const inChat = input.chat_id !== undefined ? sql`and m.chat_id = ${input.chat_id}` : sql``;

  // Pass 1. strpos is the same "contains" as the LIKE below but no index serves it, so this is
  // always the walk down the id index.
  const recent = await queryRows<MessageReadRow & { floor: string | number }>(
    db,
    sql`select w.floor, ${messageReadColumns}
        from (select coalesce(max(id), 0) - ${RECENT_WINDOW} as floor from messages) w
        left join lateral (
          select m.* from messages m
          ${visibleToCaller(viewerId)}
            and m.id > w.floor and strpos(lower(m.text), ${query.toLowerCase()}) > 0 ${inChat}
          order by m.id desc
          limit ${literalLimit(input.limit)}
        ) m on true`,
  );
  const found = recent.filter((r) => r.id !== null).map(toMessageReadFromRow);
  const floor = Number(recent[0]?.floor ?? 0);
  if (found.length >= input.limit || floor <= 0) return found;

  // Pass 2: every older match from the trigram index (materialized, so no plan walks the id index
  // instead), the caller's visibility, the newest `limit`; only those are read whole.
  const older = await queryRows<MessageReadRow>(
    db,
    sql`with hits as materialized (
          select m.id, m.chat_id, m.deleted_at from messages m
          where lower(m.text) like ${containsPattern(query)} and m.id <= ${floor} ${inChat}
        ),
        page as (
          select m.id, m.chat_id from hits m
          ${visibleToCaller(viewerId)}
          order by m.id desc
          limit ${literalLimit(input.limit - found.length)}
        )
        select ${messageReadColumns}
        from page join messages m on m.chat_id = page.chat_id and m.id = page.id
        order by m.id desc`,
  );
  return [...found, ...older.map(toMessageReadFromRow)];
}

