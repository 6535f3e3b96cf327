/**
 * A member's `unread_count` and `unread_mentions_count` in one chat (CONTRACT §5: messages after
 * their read mark and clear point, not their own, not deleted for all or for them), without counting
 * the unread messages themselves. Counting them cost O(unread): a member who had not opened ten
 * busy groups (33,000 messages each) waited about a second for their chat list.
 *
 * Every message has a position in its chat (`messages.chat_seq`: 1, 2, 3, ... in id order) and the
 * chat knows the last one (`chats.message_count`), so the messages after the mark are one
 * subtraction; from them go the reader's own messages, those deleted for all and those deleted for
 * the reader, each counted through an index over just those rows (few, except the own messages of
 * a member who writes much and never reads). Mentions are counted through their own rows.
 */
import { sql, type SQL } from "drizzle-orm";

export interface UnreadSource {
  /** The chat's id. */
  chatId: SQL;
  /** The chat's `message_count`, read in the same statement as the messages. */
  messageCount: SQL;
  /** The reader. */
  userId: SQL;
  /** greatest(last_read_message_id, cleared_before_message_id); NULL (not a member) counts nothing. */
  mark: SQL;
}

/** A one-row subquery with `unread` and `mentions` (both NULL when `mark` is NULL). */
export function unreadCountsQuery(s: UnreadSource): SQL {
  return sql`select
      b.message_count
        - coalesce((select p.chat_seq from messages p where p.chat_id = b.chat_id and p.id <= b.mark order by p.id desc limit 1), 0)
        - (select count(*) from messages o where o.chat_id = b.chat_id and o.sender_id = b.user_id and o.id > b.mark)
        - (select count(*) from messages d
            where d.chat_id = b.chat_id and d.id > b.mark and d.deleted_at is not null and d.sender_id <> b.user_id)
        - (select count(*) from message_hides h join messages hm on hm.chat_id = h.chat_id and hm.id = h.message_id
            where h.chat_id = b.chat_id and h.user_id = b.user_id and h.message_id > b.mark
              and hm.deleted_at is null and hm.sender_id <> b.user_id) as unread,
      (select count(*) from message_mentions mm join messages mm_m on mm_m.chat_id = mm.chat_id and mm_m.id = mm.message_id
        where mm.chat_id = b.chat_id and mm.user_id = b.user_id and mm.message_id > b.mark
          and mm_m.deleted_at is null and mm_m.sender_id <> b.user_id
          and not exists (select 1 from message_hides mh where mh.chat_id = mm.chat_id and mh.user_id = b.user_id and mh.message_id = mm.message_id)) as mentions
    from (select ${s.chatId} as chat_id, ${s.messageCount} as message_count, ${s.userId} as user_id, ${s.mark} as mark) b
    where b.mark is not null`;
}
