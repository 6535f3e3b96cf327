import { z } from "zod";
import { zLimit } from "../../lib/zod";

export const ZSyncQuery = z.object({
  since: z.number().int("must be an integer").min(0, "must be a non-negative integer").max(Number.MAX_SAFE_INTEGER, "is out of range"),
  limit: zLimit(100),
});
export type TSyncQuery = z.infer<typeof ZSyncQuery>;

/** One durable event exactly as the WebSocket sends it (CONTRACT §8). */
export const ZSyncEvent = z
  .object({
    type: z.string(),
    seq: z.number().int(),
    data: z.record(z.string(), z.unknown()),
  })
  .meta({
    id: "SyncEvent",
    example: { type: "message_deleted", seq: 42, data: { chat_id: 10, message_id: 100, unread_count: 0, unread_mentions_count: 0 } },
  });

export const ZSyncRead = z
  .object({
    events: z.array(ZSyncEvent),
    /** Pass as `since` next time: the last event's position, or the log's end when nothing is left. */
    next_since: z.number().int(),
    has_more: z.boolean(),
  })
  .meta({ id: "SyncRead" });
export type TSyncRead = z.infer<typeof ZSyncRead>;
