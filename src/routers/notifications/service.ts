/**
 * Notifications (CONTRACT §6): stored rows plus a `notification` user event in the same
 * transaction. Which sends create rows (and which do not, for big chats) is the messages
 * domain's rule; see docs/decisions.md.
 */
import { desc, eq, and, lt } from "drizzle-orm";
import type { DbOrTx, Tx } from "../../db/client";
import { notifications, type NotificationType } from "../../db/schema";
import { iso } from "../../lib/time";
import type { EventSink } from "../../realtime/event-log";

export interface NewNotification {
  userId: number;
  eventType: NotificationType;
  chatId: number;
  messageId: number | null;
  senderId: number;
}

export interface TNotificationRead {
  id: number;
  user_id: number;
  event_type: NotificationType;
  payload: string;
  created_at: string;
}

const toRead = (n: typeof notifications.$inferSelect): TNotificationRead => ({
  id: n.id,
  user_id: n.userId,
  event_type: n.eventType,
  payload: n.payload,
  created_at: iso(n.createdAt),
});

export async function createNotifications(tx: Tx, events: EventSink, items: NewNotification[]): Promise<void> {
  if (items.length === 0) return;
  const rows = await tx
    .insert(notifications)
    .values(
      items.map((n) => ({
        userId: n.userId,
        eventType: n.eventType,
        payload: JSON.stringify({ chat_id: n.chatId, message_id: n.messageId, sender_id: n.senderId }),
      })),
    )
    .returning();
  for (const row of rows) events.toUser(row.userId, "notification", { notification: toRead(row) });
}

/** Newest first; `beforeId` continues a page. */
export async function listNotifications(db: DbOrTx, userId: number, limit: number, beforeId?: number): Promise<TNotificationRead[]> {
  const rows = await db
    .select()
    .from(notifications)
    .where(beforeId ? and(eq(notifications.userId, userId), lt(notifications.id, beforeId)) : eq(notifications.userId, userId))
    .orderBy(desc(notifications.id))
    .limit(limit);
  return rows.map(toRead);
}
