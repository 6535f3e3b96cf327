import { z } from "zod";
import { NOTIFICATION_TYPES } from "../../db/schema";
import { ZBigId, ZTimestamp, zLimit } from "../../lib/zod";

export const ZNotificationRead = z
  .object({
    id: z.number().int(),
    user_id: z.number().int(),
    event_type: z.enum(NOTIFICATION_TYPES),
    /** JSON text with chat_id, message_id, sender_id (CONTRACT §6). */
    payload: z.string(),
    created_at: ZTimestamp,
  })
  .meta({
    id: "NotificationRead",
    example: { id: 1, user_id: 1, event_type: "message_created", payload: '{"chat_id":10,"message_id":100,"sender_id":2}', created_at: "2026-03-08T10:15:00Z" },
  });

export const ZNotificationListQuery = z.object({ limit: zLimit(50), before_id: ZBigId.optional() }).prefault({});
