/**
 * The chat's receipt leaders (`chat_receipts`, schema/chats.ts): who is furthest ahead by read and
 * by delivered mark, and the best mark of anyone else. `delivery_status` reads them (read-model.ts);
 * only a member's own mark moving forward writes them, so they never go back (a reader who leaves)
 * and joining reads nothing (a new member's marks start at the newest message).
 */
import { sql, type SQL } from "drizzle-orm";

/** A mark that moved: its member and new position. */
interface Moved {
  userId: number;
  mark: number;
}

/**
 * One kind's three columns after `moved` (or unchanged when it did not move). The leader keeps the
 * lead when it is theirs or they pass it; a passed leader's mark becomes the best of the others;
 * anyone else raises the second best. SET expressions read the row before the update.
 */
function advance(kind: "read" | "delivered", moved: Moved | null): SQL[] {
  const user = sql.raw(`${kind}_user_id`);
  const mark = sql.raw(`${kind}_mark`);
  const second = sql.raw(`${kind}_second`);
  if (moved === null) return [];
  const u = sql`${moved.userId}::int`;
  const m = sql`${moved.mark}::bigint`;
  const leads = sql`(r.${user} is null or r.${user} = ${u} or ${m} > r.${mark})`;
  return [
    sql`${user} = case when ${leads} then ${u} else r.${user} end`,
    sql`${mark} = case when ${leads} then ${m} else r.${mark} end`,
    sql`${second} = case
      when r.${user} is null or r.${user} = ${u} then r.${second}
      when ${m} > r.${mark} then r.${mark}
      else greatest(r.${second}, ${m}) end`,
  ];
}

/** Writes the marks that moved into the chat's leaders (one upsert; the row lock orders concurrent movers). */
export function moveReceiptsStatement(chatId: number, moved: { read: Moved | null; delivered: Moved | null }): SQL {
  const { read, delivered } = moved;
  const sets = [...advance("read", read), ...advance("delivered", delivered)];
  return sql`insert into chat_receipts as r (chat_id, read_user_id, read_mark, delivered_user_id, delivered_mark)
    values (${chatId}::int, ${read?.userId ?? null}::int, ${read?.mark ?? 0}::bigint, ${delivered?.userId ?? null}::int, ${delivered?.mark ?? 0}::bigint)
    on conflict (chat_id) do update set ${sql.join(sets, sql`, `)}`;
}

/**
 * The leaders as the members' current marks give them, for every chat with a mark: how migration
 * 0009 filled the table, and how the benchmark's seed fills it after writing marks directly.
 */
export const RECEIPTS_FROM_MEMBER_MARKS = `insert into chat_receipts (chat_id, read_user_id, read_mark, read_second, delivered_user_id, delivered_mark, delivered_second)
select c.chat_id, r.u1, coalesce(r.k1, 0), coalesce(r.k2, 0), d.u1, coalesce(d.k1, 0), coalesce(d.k2, 0)
from (select distinct chat_id from chat_members where last_read_message_id > 0 or last_delivered_message_id > 0) c
cross join lateral (
  select (array_agg(user_id order by last_read_message_id desc, user_id))[1] as u1,
         (array_agg(last_read_message_id order by last_read_message_id desc, user_id))[1] as k1,
         (array_agg(last_read_message_id order by last_read_message_id desc, user_id))[2] as k2
  from chat_members where chat_id = c.chat_id and last_read_message_id > 0) r
cross join lateral (
  select (array_agg(user_id order by last_delivered_message_id desc, user_id))[1] as u1,
         (array_agg(last_delivered_message_id order by last_delivered_message_id desc, user_id))[1] as k1,
         (array_agg(last_delivered_message_id order by last_delivered_message_id desc, user_id))[2] as k2
  from chat_members where chat_id = c.chat_id and last_delivered_message_id > 0) d
on conflict (chat_id) do nothing`;
