/**
 * GET /sync: the durable events after `since` that the caller may see, the same frames a resumed
 * WebSocket replays (CONTRACT §8). Reading `seq > since` directly is gap-free because positions
 * commit in order (src/realtime/event-log.ts).
 */
import { sql } from "drizzle-orm";
import type { App } from "../../app";
import { queryRows } from "../../db/client";
import { AppError } from "../../errors";
import { wireEvent } from "../../realtime/frames";
import { personalizeFor } from "../../realtime/personalize";
import { prunedThrough, readVisible } from "../../realtime/replay";
import type { TSyncQuery, TSyncRead } from "./schemas";

export const RESYNC_DETAIL = "Events since this position are no longer kept: reload your state";

/**
 * The retention floor and the committed head (replay.ts `prunedThrough` and `committedHead`) in one
 * round trip: they were three statements per page (the head read twice).
 */
async function floorAndHead(app: App): Promise<{ floor: number; head: number }> {
  const [row] = await queryRows<{ floor: string | number | null; head: string | number | null }>(
    app.db,
    sql`select s.floor, greatest((select max(seq) from chat_events), (select max(seq) from user_events), s.floor, 0) as head
        from (select max(pruned_through) as floor from event_log_state) s`,
  );
  return { floor: Number(row?.floor ?? 0), head: Number(row?.head ?? 0) };
}

export async function syncEvents(app: App, userId: number, input: TSyncQuery): Promise<TSyncRead> {
  // Every position up to `head` is committed now, so the read below sees all of them. A `since`
  // below the floor lost events; one past the head is from another log (replay.ts resumeIsImpossible).
  const { floor, head } = await floorAndHead(app);
  if (input.since < floor || (input.since !== 0 && input.since > head)) throw new AppError("GONE", RESYNC_DETAIL);
  const rows = await readVisible(app.db, userId, input.since, null, input.limit + 1);
  // A prune between the check and the read would have removed events silently: check again.
  if (input.since < (await prunedThrough(app.db))) throw new AppError("GONE", RESYNC_DETAIL);
  const hasMore = rows.length > input.limit;
  const page = rows.slice(0, input.limit);
  const personal = await personalizeFor(app, userId, page);
  const last = page[page.length - 1];
  return {
    events: page.map((e) => wireEvent(e, personal.get(e.seq) ?? e.data)),
    next_since: hasMore && last ? last.seq : Math.max(input.since, last?.seq ?? 0, head),
    has_more: hasMore,
  };
}
