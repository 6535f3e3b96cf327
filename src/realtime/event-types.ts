/** Event names of CONTRACT §8. Durable ones go through the event log and carry `seq`. */
export const DURABLE_EVENT_TYPES = [
  "message_created",
  "message_updated",
  "message_deleted",
  "message_delivered",
  "message_read",
  "reactions_updated",
  "chat_updated",
  "chat_deleted",
  "notification",
] as const;
export type DurableEventType = (typeof DURABLE_EVENT_TYPES)[number];

export const EPHEMERAL_EVENT_TYPES = ["typing", "presence", "pong", "error", "ready", "resync_required"] as const;
export type EphemeralEventType = (typeof EPHEMERAL_EVENT_TYPES)[number];

export type EventData = Record<string, unknown>;

/** A durable event as stored and replayed. Exactly one of chatId / userId is set. */
export interface LoggedEvent {
  seq: number;
  chatId: number | null;
  userId: number | null;
  type: DurableEventType;
  data: EventData;
  createdAt: Date;
}
