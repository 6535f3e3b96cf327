/**
 * The durable event log: every state change writes its events in the same transaction as the
 * change (CONTRACT §8, SCALING). Chat events are one row per chat event, never per member.
 *
 * Why commits come out in `seq` order: a sequence value is taken at insert but becomes visible at
 * commit, so a reader tailing `seq > cursor` could pass a value taken earlier and committed later
 * and skip it for ever (PITFALLS). Writers therefore take one transaction-scoped advisory lock just
 * before drawing their positions, as the last step of the transaction; the lock is released only
 * after the commit is visible, so position N+1 cannot exist before N is committed or rolled back.
 * The lock is held for the event insert and the commit only, not for the business work before it.
 */
import { sql } from "drizzle-orm";
import { queryRows, type Db, type Tx } from "../db/client";
import { chatEvents, userEvents } from "../db/schema";
import type { DurableEventType, EventData } from "./event-types";

export const EVENT_LOG_LOCK_KEY = 7391002;

interface PendingEvent {
  chatId: number | null;
  userId: number | null;
  type: DurableEventType;
  data: EventData;
}

/** Collects the events of one transaction; `transact` writes them last. */
export class EventSink {
  readonly pending: PendingEvent[] = [];
  toChat(chatId: number, type: DurableEventType, data: EventData) {
    this.pending.push({ chatId, userId: null, type, data });
  }
  toUser(userId: number, type: DurableEventType, data: EventData) {
    this.pending.push({ chatId: null, userId, type, data });
  }
}

/** Writes the sink's events with positions in emission order; answers the highest position. */
export async function writeEvents(tx: Tx, sink: EventSink): Promise<number | null> {
  if (sink.pending.length === 0) return null;
  await tx.execute(sql`select pg_advisory_xact_lock(${EVENT_LOG_LOCK_KEY})`);
  const seqs = await queryRows<{ seq: string | number }>(
    tx,
    sql`select nextval('event_seq') as seq from generate_series(1, ${sink.pending.length})`,
  );
  const positions = seqs.map((r) => Number(r.seq)).sort((a, b) => a - b);
  const chatRows: (typeof chatEvents.$inferInsert)[] = [];
  const userRows: (typeof userEvents.$inferInsert)[] = [];
  sink.pending.forEach((e, i) => {
    const seq = positions[i] ?? 0;
    if (e.chatId !== null) chatRows.push({ chatId: e.chatId, seq, type: e.type, data: e.data });
    else if (e.userId !== null) userRows.push({ userId: e.userId, seq, type: e.type, data: e.data });
  });
  if (chatRows.length) await tx.insert(chatEvents).values(chatRows);
  if (userRows.length) await tx.insert(userEvents).values(userRows);
  return positions[positions.length - 1] ?? null;
}

/** Highest position drawn so far (committed or not); 0 before the first event. */
export async function currentLogPosition(db: Db): Promise<number> {
  const rows = await queryRows<{ last_value: string | number; is_called: boolean }>(
    db,
    sql`select last_value, is_called from event_seq`,
  );
  const row = rows[0];
  return row && row.is_called ? Number(row.last_value) : 0;
}
