/**
 * Reading the event log: the tailer's "everything after my cursor", a user's visible events for
 * resume (WebSocket `since=`) and GET /sync, the retention floor and pruning.
 *
 * Reading `seq > x` never skips a late commit: writers draw positions under one advisory lock held
 * through their commit (event-log.ts), so when position N is visible every position below N is
 * committed or rolled back. A single statement reads one snapshot, so its answer is a prefix of the
 * log (within the range asked for).
 *
 * What a user may see: their own user events, plus chat events of chats they are a member of now,
 * after the position at which that membership began (`chat_members.joined_seq`), and chat events
 * of memberships that ended, within the period they covered (`chat_member_periods`): a client that
 * resumes from before a leave gets what it missed up to the leave, also when the user has joined
 * again since. Nothing after the leave; their own `chat_deleted` user event tells them of it.
 * Events that carry a message (created, edited, reactions) are left out when that message is not
 * visible to the user now (deleted for all, deleted for them, at or before their clear point), as
 * history leaves it out: a replay must not hand back the text of a message deleted meanwhile. The
 * `message_deleted` events stay, so a client that saw the message live removes it.
 */
import { sql, type SQL } from "drizzle-orm";
import { plannedEachTime, queryRows, type DbOrTx } from "../db/client";
import { visibleMessageSql } from "../routers/messages/access";
import type { DurableEventType, EventData, LoggedEvent } from "./event-types";

/** What a client hears when it cannot resume from its position (GET /sync 410, `resync_required`). */
export const RESYNC_DETAIL = "Events since this position are no longer kept: reload your state";
export const RESYNC_AHEAD_DETAIL = "This position is beyond the newest event (from another server, or before a reset): reload your state";

/** Events are kept at least this long (CONTRACT §8); older ones are pruned. */
export const EVENT_RETENTION_DAYS = 7;

interface EventRow {
  seq: string | number;
  chat_id: number | null;
  user_id: number | null;
  type: string;
  data: EventData | string;
  created_at: Date | string;
}

function toEvent(r: EventRow): LoggedEvent {
  return {
    seq: Number(r.seq),
    chatId: r.chat_id === null ? null : Number(r.chat_id),
    userId: r.user_id === null ? null : Number(r.user_id),
    type: r.type as DurableEventType,
    data: typeof r.data === "string" ? (JSON.parse(r.data) as EventData) : r.data,
    createdAt: r.created_at instanceof Date ? r.created_at : new Date(r.created_at),
  };
}

/*
 * The log's tables start empty and grow by every write, so their readers are planned on every
 * execution (`plannedEachTime`): a plan kept from an empty log scans it whole.
 */

/** Every event after `after`, in order (the tailer). */
export async function readLog(db: DbOrTx, after: number, limit: number): Promise<LoggedEvent[]> {
  const rows = await queryRows<EventRow>(
    db,
    plannedEachTime(sql`select * from (
          (select seq, chat_id, null::int as user_id, type, data, created_at from chat_events where seq > ${after} order by seq limit ${limit})
          union all
          (select seq, null::int as chat_id, user_id, type, data, created_at from user_events where seq > ${after} order by seq limit ${limit})
        ) e order by seq limit ${limit}`),
  );
  return rows.map(toEvent);
}

/**
 * The statement of `readVisible`. `ce.seq > after` is stated on its own next to the joined_seq
 * bound: inside `greatest()` it cannot bound an index scan on `seq`, and the planner then walked
 * the seq index from the log's start, filtering (/sync: 110,000 buffers instead of 650 for a page
 * near the end of the benchmark's log).
 */
/**
 * The event `ce` carries no message, or one `userId` can see now (with `clearedBefore` as their
 * clear point): replays never hand back the text of a message deleted or cleared meanwhile.
 */
const carriesVisibleMessage = (userId: number, clearedBefore: SQL) => sql`(ce.type not in ('message_created', 'message_updated', 'reactions_updated') or exists (
    select 1 from messages vm
    where vm.chat_id = ce.chat_id
      and vm.id = coalesce((ce.data #>> '{message,id}')::bigint, (ce.data ->> 'message_id')::bigint)
      and ${visibleMessageSql("vm", sql`${userId}`, clearedBefore)}))`;

export function visibleEventsQuery(userId: number, after: number, upto: number | null, limit: number): SQL {
  const top = upto ?? Number.MAX_SAFE_INTEGER;
  return sql`select * from (
          (select ce.seq, ce.chat_id, null::int as user_id, ce.type, ce.data, ce.created_at
             from chat_members m
             join chat_events ce on ce.chat_id = m.chat_id and ce.seq > ${after}::bigint and ce.seq > greatest(${after}::bigint, m.joined_seq) and ce.seq <= ${top}
            where m.user_id = ${userId}
              -- A private chat deleted "for me" is gone for the user until a new message brings it
              -- back (which clears the flag): live sockets leave its topic, and a replay must not
              -- hand back its reads, pins or ChatRead either (they put it back in the client's list).
              and not m.hidden
              and ${carriesVisibleMessage(userId, sql`m.cleared_before_message_id`)}
            order by ce.seq limit ${limit})
          union all
          -- Ended memberships: only periods that ended after the resume point (the index on
          -- (user_id, left_seq) finds none in the usual case). A chat-level chat_updated of such a
          -- period is left out: it carries the receiver's ChatRead, which a former member has not.
          (select ce.seq, ce.chat_id, null::int as user_id, ce.type, ce.data, ce.created_at
             from chat_member_periods p
             join chat_events ce on ce.chat_id = p.chat_id and ce.seq > ${after}::bigint and ce.seq > p.joined_seq
              and ce.seq <= p.left_seq and ce.seq <= ${top}
            where p.user_id = ${userId} and p.left_seq > ${after}::bigint
              and ce.type <> 'chat_updated'
              and ${carriesVisibleMessage(userId, sql`p.cleared_before_message_id`)}
            order by ce.seq limit ${limit})
          union all
          (select seq, null::int as chat_id, user_id, type, data, created_at from user_events
            where user_id = ${userId} and seq > ${after} and seq <= ${top}
            order by seq limit ${limit})
        ) e order by seq limit ${limit}`;
}

/** Events in (after, upto] that `userId` may see, in order; `upto` null reads to the end. */
export async function readVisible(db: DbOrTx, userId: number, after: number, upto: number | null, limit: number): Promise<LoggedEvent[]> {
  const rows = await queryRows<EventRow>(db, plannedEachTime(visibleEventsQuery(userId, after, upto, limit)));
  return rows.map(toEvent);
}

export interface LogBounds {
  /** Highest position retention has deleted. */
  floor: number;
  /** Highest committed position (every position up to it is committed or rolled back). */
  head: number;
}

/** The retention floor and the committed head, in one statement. */
export async function logBounds(db: DbOrTx): Promise<LogBounds> {
  const rows = await queryRows<{ floor: string | number | null; head: string | number | null }>(
    db,
    plannedEachTime(sql`select s.floor, greatest((select max(seq) from chat_events), (select max(seq) from user_events), s.floor, 0) as head
        from (select max(pruned_through) as floor from event_log_state) s`),
  );
  return { floor: Number(rows[0]?.floor ?? 0), head: Number(rows[0]?.head ?? 0) };
}

/** Highest committed position (every position up to it is committed or rolled back). */
export async function committedHead(db: DbOrTx): Promise<number> {
  return (await logBounds(db)).head;
}

/** Highest position retention has deleted: a `since` below it may have lost events. */
export async function prunedThrough(db: DbOrTx): Promise<number> {
  const rows = await queryRows<{ p: string | number | null }>(db, sql`select max(pruned_through) as p from event_log_state`);
  return Number(rows[0]?.p ?? 0);
}

/**
 * Why a client at `since` must reload (`null` when it can resume): events after it were pruned
 * (since < floor), or it claims a position the log never reached (another database, a reset). The
 * two cases ask the same of the
 * client but are different news, and a client (or its developer) told "no longer kept" about a
 * position the server never reached looks for the wrong bug.
 */
export function resyncDetail(since: number, bounds: LogBounds): string | null {
  if (since < bounds.floor) return RESYNC_DETAIL;
  if (since !== 0 && since > bounds.head) return RESYNC_AHEAD_DETAIL;
  return null;
}

/** `resyncDetail` against the log as it is now. */
export async function resumeRefusal(db: DbOrTx, since: number): Promise<string | null> {
  return resyncDetail(since, await logBounds(db));
}

/**
 * Deletes events created before `before` and raises the floor to the highest deleted position, in
 * one transaction. Readers check the floor after reading too, so a prune racing a resume is caught.
 */
export async function pruneEventLog(db: DbOrTx, before: Date): Promise<number> {
  return db.transaction(async (tx) => {
    const rows = await queryRows<{ p: string | number | null }>(
      tx,
      sql`select greatest(
            (select max(seq) from chat_events where created_at < ${before.toISOString()}::timestamptz),
            (select max(seq) from user_events where created_at < ${before.toISOString()}::timestamptz)) as p`,
    );
    const through = rows[0]?.p === null || rows[0]?.p === undefined ? 0 : Number(rows[0].p);
    if (through === 0) return 0;
    await tx.execute(sql`delete from chat_events where seq <= ${through}`);
    await tx.execute(sql`delete from user_events where seq <= ${through}`);
    // A period that ended at or below the floor has no events left to replay.
    await tx.execute(sql`delete from chat_member_periods where left_seq <= ${through}`);
    await tx.execute(
      sql`insert into event_log_state (id, pruned_through) values (1, ${through})
          on conflict (id) do update set pruned_through = greatest(event_log_state.pruned_through, excluded.pruned_through)`,
    );
    return through;
  });
}
