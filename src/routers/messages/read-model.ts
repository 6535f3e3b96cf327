/**
 * MessageRead for rows, with `delivery_status` computed per page in two queries whatever the page
 * size: for every chat on the page, the two members furthest ahead by read mark and the two by
 * delivered mark (index chat_members (chat_id, last_*_message_id)). Two are enough because the
 * sender is at most one of them: the furthest other member is the first, or the second when the
 * first is the sender.
 */
import { sql } from "drizzle-orm";
import { queryRows, type DbOrTx } from "../../db/client";
import type { messages } from "../../db/schema";
import { iso } from "../../lib/time";
import type { TMessageRead } from "./schemas";
import { idList } from "../../db/sql-fragments";

export type MessageRow = typeof messages.$inferSelect;

interface Mark {
  userId: number;
  messageId: number;
}

type Leaders = Map<number, Mark[]>;

async function leadersBy(db: DbOrTx, chatIds: number[], column: "last_read_message_id" | "last_delivered_message_id"): Promise<Leaders> {
  const ids = idList(chatIds);
  const rows = await queryRows<{ chat_id: number; user_id: number; mark: string | number }>(
    db,
    sql`select c.chat_id, l.user_id, l.mark
        from unnest(array[${ids}]::int[]) as c(chat_id)
        cross join lateral (
          select cm.user_id, cm.${sql.raw(column)} as mark
          from chat_members cm
          where cm.chat_id = c.chat_id and cm.${sql.raw(column)} > 0
          order by cm.${sql.raw(column)} desc
          limit 2
        ) l`,
  );
  const out: Leaders = new Map();
  for (const r of rows) {
    const list = out.get(Number(r.chat_id)) ?? [];
    list.push({ userId: Number(r.user_id), messageId: Number(r.mark) });
    out.set(Number(r.chat_id), list);
  }
  return out;
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
  const chatIds = [...new Set(rows.map((r) => r.chatId))];
  const [readers, deliverers] = await Promise.all([
    leadersBy(db, chatIds, "last_read_message_id"),
    leadersBy(db, chatIds, "last_delivered_message_id"),
  ]);
  return rows.map((row) =>
    toMessageRead(row, reachedByOther(readers, row) ? "read" : reachedByOther(deliverers, row) ? "delivered" : "sent"),
  );
}

export async function messageReadFor(db: DbOrTx, row: MessageRow): Promise<TMessageRead> {
  const [read] = await messageReadsFor(db, [row]);
  if (!read) throw new Error("unreachable: one row in, one read out");
  return read;
}
