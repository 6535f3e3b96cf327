/**
 * MessageRead for rows, with `delivery_status` from the chat's receipt leaders (`chat_receipts`,
 * receipts.ts): per kind the member furthest ahead, their mark, and the best mark of anyone else.
 * A message is read (delivered) when the furthest member other than its sender is at or past it:
 * the leader's mark unless the leader is the sender, else the second best.
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

interface Leader {
  userId: number | null;
  mark: number;
  second: number;
}

interface ChatReceipts {
  read: Leader;
  delivered: Leader;
}

/** The receipt leaders of each chat, one primary-key step per chat. */
async function receiptsOf(db: DbOrTx, chatIds: number[]): Promise<Map<number, ChatReceipts>> {
  const rows = await queryRows<{
    chat_id: number;
    read_user_id: number | null;
    read_mark: string | number;
    read_second: string | number;
    delivered_user_id: number | null;
    delivered_mark: string | number;
    delivered_second: string | number;
  }>(db, sql`select * from chat_receipts where chat_id = any(${intArray(chatIds)}::int[])`);
  const out = new Map<number, ChatReceipts>();
  for (const r of rows)
    out.set(Number(r.chat_id), {
      read: { userId: r.read_user_id === null ? null : Number(r.read_user_id), mark: Number(r.read_mark), second: Number(r.read_second) },
      delivered: { userId: r.delivered_user_id === null ? null : Number(r.delivered_user_id), mark: Number(r.delivered_mark), second: Number(r.delivered_second) },
    });
  return out;
}

/** True when a member other than the sender is at or past the message. */
function reachedByOther(leader: Leader, row: MessageRow): boolean {
  return row.id <= (leader.userId !== row.senderId ? leader.mark : leader.second);
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
  const receipts = await receiptsOf(db, [...new Set(rows.map((r) => r.chatId))]);
  return rows.map((row) => {
    const r = receipts.get(row.chatId);
    const status = !r ? "sent" : reachedByOther(r.read, row) ? "read" : reachedByOther(r.delivered, row) ? "delivered" : "sent";
    return toMessageRead(row, status);
  });
}

export async function messageReadFor(db: DbOrTx, row: MessageRow): Promise<TMessageRead> {
  const [read] = await messageReadsFor(db, [row]);
  if (!read) throw new Error("unreachable: one row in, one read out");
  return read;
}

/** The furthest other member's mark for a message of `m`, from the receipts row `rc` (NULL without one). */
const otherMark = (kind: "read" | "delivered") =>
  sql.raw(`case when rc.${kind}_user_id is distinct from m.sender_id then rc.${kind}_mark else rc.${kind}_second end`);

/** The status rule for a page whose statement joins the chat's receipts row as `rc` (`chatReceiptsJoin`). */
export const deliveryStatusFromLeadersSql = sql`case
  when m.id <= ${otherMark("read")} then 'read'
  when m.id <= ${otherMark("delivered")} then 'delivered'
  else 'sent' end`;

/** Joins `rc`, the receipts row `deliveryStatusFromLeadersSql` reads, for one chat (none: every status is sent). */
export const chatReceiptsJoin = (chatId: number) => sql`left join chat_receipts rc on rc.chat_id = ${chatId}`;

/** The status rule for a row of `messages m` of any chat: one primary-key step to its receipts. */
export const deliveryStatusSql = sql`coalesce((select ${deliveryStatusFromLeadersSql} from chat_receipts rc where rc.chat_id = m.chat_id), 'sent')`;

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
