/**
 * Notifications (CONTRACT §6): stored rows plus a `notification` user event in the same
 * transaction. Which sends create rows (and which do not, for big chats) is the messages
 * domain's rule; see docs/decisions.md.
 */
import { desc, eq, and, lt, sql, type SQL } from "drizzle-orm";
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

export type NotificationRow = typeof notifications.$inferSelect;

const toRead = (n: NotificationRow): TNotificationRead => ({
  id: n.id,
  user_id: n.userId,
  event_type: n.eventType,
  payload: n.payload,
  created_at: iso(n.createdAt),
});

/** The stored payload of a notification about a message (CONTRACT §6). */
export const notificationPayload = (n: Pick<NewNotification, "chatId" | "messageId" | "senderId">): string =>
  JSON.stringify({ chat_id: n.chatId, message_id: n.messageId, sender_id: n.senderId });

/**
 * `notificationPayload` computed by PostgreSQL from integer expressions, for notifications
 * inserted by the statement that writes their message; the same text byte for byte.
 */
export const notificationPayloadSql = (chatId: SQL, messageId: SQL, senderId: SQL): SQL =>
  sql`'{"chat_id":' || ${chatId} || ',"message_id":' || ${messageId} || ',"sender_id":' || ${senderId} || '}'`;

export async function createNotifications(tx: Tx, events: EventSink, items: NewNotification[]): Promise<void> {
  if (items.length === 0) return;
  const rows = await tx
    .insert(notifications)
    .values(items.map((n) => ({ userId: n.userId, eventType: n.eventType, payload: notificationPayload(n) })))
    .returning();
  announceNotifications(events, rows);
}

/** The `notification` user event of each stored row, in the rows' order. */
export function announceNotifications(events: EventSink, rows: NotificationRow[]): void {
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
