/**
 * GET /sync: the durable events after `since` that the caller may see, the same frames a resumed
 * WebSocket replays (CONTRACT §8). Reading `seq > since` directly is gap-free because positions
 * commit in order (src/realtime/event-log.ts).
 */
import type { App } from "../../app";
import { AppError } from "../../errors";
import { wireEvent } from "../../realtime/frames";
import { personalizeFor } from "../../realtime/personalize";
import { logBounds, prunedThrough, readVisible, RESYNC_DETAIL, resyncDetail } from "../../realtime/replay";
import type { TSyncQuery, TSyncRead } from "./schemas";

export async function syncEvents(app: App, userId: number, input: TSyncQuery): Promise<TSyncRead> {
  // Every position up to `head` is committed now, so the read below sees all of them.
  const bounds = await logBounds(app.db);
  const refusal = resyncDetail(input.since, bounds);
  if (refusal !== null) throw new AppError("GONE", refusal);
  const head = bounds.head;
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
