/**
 * The one statement that writes a new message and its consequences in the chat (compose.ts says
 * which): lock the chat row, insert the message at the chat's next position, move the chat's
 * activity and message count, bring a hidden private chat back, store mention rows and
 * notifications. One round trip instead of one per step; every
 * step reads the inserted row (`ins`), so an idempotent retry that inserts nothing changes nothing.
 *
 * Order inside the statement: the chat row is locked before the message id is drawn (the insert
 * reads the lock's row), so the sends of one chat commit, and take their event positions, in id
 * order (test/regression/concurrent-send-order.test.ts).
 */
import { sql, type SQL } from "drizzle-orm";
import { messages } from "../../db/schema";
import { LOG_POSITION } from "../chats/membership";
import { notificationPayloadSql } from "../notifications/service";

/** How many members a message_created notification reaches at most (the rest is a bigger chat). */
export const NOTIFIED_MEMBERS_CAP = 101;

export interface MessageWrite {
  chatId: number;
  senderId: number;
  type: string;
  text: string | null;
  clientMessageId: string | null;
  replyToMessageId: number | null;
  forwardedFromMessageId: number | null;
  attachmentWaveform: number[] | null;
  /** Lower-cased `@usernames` of the text. */
  mentions: string[];
  /** Store a message_created notification for every other unmuted member. */
  notifyMembers: boolean;
  /** A private chat: members who hid it see it again. */
  unhide: boolean;
}

/**
 * Answers one row, the message as `returning *` plus `notifications` (a JSON array of the stored
 * notification rows, mentions first) and `unhidden` (the members who had hidden the private chat);
 * no row when nothing was inserted (the client_message_id is taken, the chat is gone, or the sender
 * is no longer a member).
 */
export function messageWriteStatement(m: MessageWrite): SQL {
  const parts: SQL[] = [
    // A locking read answers the newest committed version of the row, so message_count is exact
    // even when this statement waited for another send's commit.
    sql`locked as materialized (select id, message_count from chats where id = ${m.chatId}::int for no key update)`,
    // The sender's membership, locked after the chat (it joins `locked`): a removal or leave that
    // committed while this waited for the chat's lock deleted the row, which a locking read then
    // skips, so nothing is written (the posting checks ran before the transaction, on older data).
    sql`sender as materialized (
      select sm.user_id from locked join chat_members sm on sm.chat_id = locked.id and sm.user_id = ${m.senderId}::int
      for key share of sm)`,
    sql`ins as (
      insert into messages (chat_id, chat_seq, sender_id, type, text, client_message_id, reply_to_message_id, forwarded_from_message_id, attachment_waveform)
      select locked.id, locked.message_count + 1, ${m.senderId}::int, ${m.type}::text, ${m.text}::text, ${m.clientMessageId}::text,
        ${m.replyToMessageId}::bigint, ${m.forwardedFromMessageId}::bigint, ${waveform(m.attachmentWaveform)}::text::int[]
      from locked, sender
      on conflict (chat_id, sender_id, client_message_id) where client_message_id is not null do nothing
      returning *)`,
    sql`touched as (
      update chats set last_message_id = greatest(coalesce(chats.last_message_id, 0), ins.id), last_activity_at = ins.created_at,
        message_count = ins.chat_seq
      from ins where chats.id = ins.chat_id)`,
  ];
  if (m.unhide)
    parts.push(sql`unhidden as (
      update chat_members set hidden = false, joined_seq = ${LOG_POSITION} from ins where chat_members.chat_id = ins.chat_id and chat_members.hidden
      returning chat_members.user_id)`);
  const mentions = m.mentions.length > 0;
  if (mentions)
    parts.push(
      sql`mentioned as materialized (
        select u.id as user_id from ins
        join chat_members cm on cm.chat_id = ins.chat_id
        join users u on u.id = cm.user_id
        where lower(u.username) in (select jsonb_array_elements_text(${JSON.stringify(m.mentions)}::text::jsonb))
          and u.id <> ins.sender_id)`,
      sql`mention_rows as (
        insert into message_mentions (chat_id, message_id, user_id)
        select ins.chat_id, ins.id, mentioned.user_id from ins, mentioned
        on conflict do nothing)`,
    );
  // Mentions reach muted members too; a mentioned member gets that one notification, not two.
  const recipients: SQL[] = [];
  if (mentions) recipients.push(sql`select 0 as rank, user_id, 'mention' as event_type from mentioned`);
  if (m.notifyMembers)
    recipients.push(sql`(select 1 as rank, cm.user_id, 'message_created' as event_type
        from chat_members cm
        where cm.chat_id = ${m.chatId}::int and cm.user_id <> ${m.senderId}::int and not cm.muted
          ${mentions ? sql`and cm.user_id not in (select user_id from mentioned)` : sql``}
        order by cm.user_id limit ${NOTIFIED_MEMBERS_CAP}::int)`);
  if (recipients.length > 0)
    parts.push(sql`notified as (
      insert into notifications (user_id, event_type, payload)
      select r.user_id, r.event_type, ${notificationPayloadSql(sql`ins.chat_id`, sql`ins.id`, sql`ins.sender_id`)}
      from ins, (${sql.join(recipients, sql` union all `)}) r
      order by r.rank, r.user_id
      returning *)`);
  const notified = recipients.length > 0 ? sql`(select coalesce(json_agg(n order by n.id), '[]') from notified n)` : sql`'[]'::json`;
  const unhidden = m.unhide ? sql`(select coalesce(json_agg(user_id), '[]') from unhidden)` : sql`'[]'::json`;
  return sql`with ${sql.join(parts, sql`, `)} select ins.*, ${notified} as notifications, ${unhidden} as unhidden from ins`;
}

/** Waveforms travel as an array literal: one parameter of a type both drivers agree on. */
const waveform = (w: number[] | null): string | null => (w === null ? null : (messages.attachmentWaveform.mapToDriverValue(w) as string));
