/**
 * MessageRead for rows, with `delivery_status` computed per page in one query whatever the page
 * size: for every chat on the page, the two members furthest ahead by read mark and the two by
 * delivered mark (index chat_members (chat_id, last_*_message_id)). Two are enough because the
 * sender is at most one of them: the furthest other member is the first, or the second when the
 * first is the sender.
 *
 * Pages that are read straight from `messages` (history, search) select `messageReadColumns`
 * instead and get the status from the same statement (see `deliveryStatusSql`).
 */
import { sql, type SQL } from "drizzle-orm";
import { queryRows, type DbOrTx } from "../../db/client";
import type { messages } from "../../db/schema";
import { isoFromDriver } from "../../lib/pg-timestamp";
import { iso } from "../../lib/time";
import type { TMessageRead } from "./schemas";
import { intArray } from "../../db/sql-fragments";

export type MessageRow = typeof messages.$inferSelect;

interface Mark {
  userId: number;
  messageId: number;
}

type Leaders = Map<number, Mark[]>;

/** Which mark a leader is furthest ahead by. */
type MarkColumn = "last_read_message_id" | "last_delivered_message_id";

/**
 * The two members of `chatId` furthest ahead by `column` as rows (user_id, mark): one step on
 * chat_members (chat_id, last_*_message_id). Two suffice for the status rule (see the top).
 */
const topTwoMarks = (chatId: SQL, column: MarkColumn) => sql`
  select r.user_id, r.${sql.raw(column)} as mark from chat_members r
  where r.chat_id = ${chatId} and r.${sql.raw(column)} > 0
  order by r.${sql.raw(column)} desc limit 2`;

/** The read leaders and the delivered leaders of each chat, in one statement. */
async function leadersOf(db: DbOrTx, chatIds: number[]): Promise<{ readers: Leaders; deliverers: Leaders }> {
  const leaders = (column: MarkColumn) => topTwoMarks(sql`c.chat_id`, column);
  const rows = await queryRows<{ chat_id: number; kind: "read" | "delivered"; user_id: number; mark: string | number }>(
    db,
    sql`select c.chat_id, 'read' as kind, r.user_id, r.mark
        from unnest(${intArray(chatIds)}::int[]) as c(chat_id)
        cross join lateral (${leaders("last_read_message_id")}) r
        union all
        select c.chat_id, 'delivered', d.user_id, d.mark
        from unnest(${intArray(chatIds)}::int[]) as c(chat_id)
        cross join lateral (${leaders("last_delivered_message_id")}) d`,
  );
  const readers: Leaders = new Map();
  const deliverers: Leaders = new Map();
  for (const r of rows) {
    const out = r.kind === "read" ? readers : deliverers;
    const list = out.get(Number(r.chat_id)) ?? [];
    list.push({ userId: Number(r.user_id), messageId: Number(r.mark) });
    out.set(Number(r.chat_id), list);
  }
  return { readers, deliverers };
}

/** True when a member other than the sender has a mark at or past the message. */
function reachedByOther(leaders: Leaders, row: MessageRow): boolean {
  const marks = leaders.get(row.chatId) ?? [];
  return marks.some((m) => m.userId !== row.senderId && m.messageId >= row.id);
}

export function toMessageRead(row: MessageRow, status: TMessageRead["delivery_status"]): TMessageRead {
  return {
    id: row.id,
    chat_id: row.chatId,
    sender_id: row.senderId,
    reply_to_message_id: row.replyToMessageId,
    forwarded_from_message_id: row.forwardedFromMessageId,
    type: row.type,
    text: row.text,
    delivery_status: status,
    attachment_waveform: row.attachmentWaveform ?? null,
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
  };
}

/** MessageRead for each row, in the rows' order. */
export async function messageReadsFor(db: DbOrTx, rows: MessageRow[]): Promise<TMessageRead[]> {
  if (rows.length === 0) return [];
  const { readers, deliverers } = await leadersOf(db, [...new Set(rows.map((r) => r.chatId))]);
  return rows.map((row) =>
    toMessageRead(row, reachedByOther(readers, row) ? "read" : reachedByOther(deliverers, row) ? "delivered" : "sent"),
  );
}

export async function messageReadFor(db: DbOrTx, row: MessageRow): Promise<TMessageRead> {
  const [read] = await messageReadsFor(db, [row]);
  if (!read) throw new Error("unreachable: one row in, one read out");
  return read;
}

/**
 * The status rule above for a row of `messages m` inside a statement: is there a member other than
 * the sender whose read (delivered) mark is at or past the message? Each test is one step on
 * chat_members (chat_id, last_*_message_id): the first entry at or past the id answers it unless
 * it is the sender's, and then the next one does.
 */
export const deliveryStatusSql = sql`case
  when exists (select 1 from chat_members r where r.chat_id = m.chat_id and r.last_read_message_id >= m.id and r.user_id <> m.sender_id) then 'read'
  when exists (select 1 from chat_members d where d.chat_id = m.chat_id and d.last_delivered_message_id >= m.id and d.user_id <> m.sender_id) then 'delivered'
  else 'sent' end`;

/**
 * The same rule for a page inside one chat, against that chat's leaders read once (`chatMarkLeaders`)
 * instead of two index probes per row: the furthest other member is the first leader unless that is
 * the sender, then the second. On the benchmark's history page the probes were 147 of 181 buffers.
 */
export const deliveryStatusFromLeadersSql = sql`case
  when m.id <= case when lr.u1 <> m.sender_id then lr.k1 else lr.k2 end then 'read'
  when m.id <= case when ld.u1 <> m.sender_id then ld.k1 else ld.k2 end then 'delivered'
  else 'sent' end`;

/** `topTwoMarks` as one row: the first leader's user (u1) and both marks (k1, k2; null when absent). */
const leaderPair = (chatId: number, column: MarkColumn) => sql`
  select (array_agg(l.user_id order by l.mark desc))[1] as u1,
         (array_agg(l.mark order by l.mark desc))[1] as k1,
         (array_agg(l.mark order by l.mark desc))[2] as k2
  from (${topTwoMarks(sql`${chatId}`, column)}) l`;

/** Joins `lr` and `ld`, the leaders `deliveryStatusFromLeadersSql` reads, for one chat. */
export const chatMarkLeaders = (chatId: number) => sql`
  cross join lateral (${leaderPair(chatId, "last_read_message_id")}) lr
  cross join lateral (${leaderPair(chatId, "last_delivered_message_id")}) ld`;

/** What a statement selects from `messages m` to build a MessageRead (`toMessageReadFromRow`), with the status computed by `status`. */
export const messageReadColumnsWith = (status: SQL) => sql`m.id, m.chat_id, m.sender_id, m.reply_to_message_id, m.forwarded_from_message_id, m.type, m.text,
  m.attachment_waveform, m.created_at, m.updated_at, ${status} as delivery_status`;

/** `messageReadColumnsWith` for rows of any chats: the status probed per row. */
export const messageReadColumns = messageReadColumnsWith(deliveryStatusSql);

type BigintText = string | number;

export interface MessageReadRow {
  id: BigintText;
  chat_id: number;
  sender_id: number;
  reply_to_message_id: BigintText | null;
  forwarded_from_message_id: BigintText | null;
  type: TMessageRead["type"];
  text: string | null;
  attachment_waveform: number[] | null;
  created_at: Date | string;
  updated_at: Date | string;
  delivery_status: TMessageRead["delivery_status"];
}

const bigOrNull = (v: BigintText | null): number | null => (v === null ? null : Number(v));

export function toMessageReadFromRow(r: MessageReadRow): TMessageRead {
  return {
    id: Number(r.id),
    chat_id: Number(r.chat_id),
    sender_id: Number(r.sender_id),
    reply_to_message_id: bigOrNull(r.reply_to_message_id),
    forwarded_from_message_id: bigOrNull(r.forwarded_from_message_id),
    type: r.type,
    text: r.text,
    delivery_status: r.delivery_status,
    attachment_waveform: r.attachment_waveform ?? null,
    created_at: isoFromDriver(r.created_at),
    updated_at: isoFromDriver(r.updated_at),
  };
}
