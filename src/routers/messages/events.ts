/**
 * The messages domain's events (CONTRACT §8), written through the transaction's EventSink so they
 * commit with the change and never announce what rolled back. The realtime gateway delivers them
 * from the event log; nothing here knows about sockets.
 *
 * `reactions_updated` carries counts without the per-viewer `reacted` flag: one chat event is
 * shared by every member, so a client derives `reacted` from its own toggles (or re-reads the list).
 */
import type { EventSink } from "../../realtime/event-log";
import type { TMessageRead } from "./schemas";

export interface ReactionCount {
  emoji: string;
  count: number;
}

export const messageEvents = {
  created(events: EventSink, message: TMessageRead) {
    events.toChat(message.chat_id, "message_created", { message });
  },
  updated(events: EventSink, message: TMessageRead) {
    events.toChat(message.chat_id, "message_updated", { message });
  },
  deletedForAll(events: EventSink, chatId: number, messageId: number) {
    events.toChat(chatId, "message_deleted", { chat_id: chatId, message_id: messageId });
  },
  /** "Deleted for me" is news for the caller's other devices only. */
  deletedForUser(events: EventSink, userId: number, chatId: number, messageId: number) {
    events.toUser(userId, "message_deleted", { chat_id: chatId, message_id: messageId });
  },
  statusMoved(events: EventSink, type: "message_delivered" | "message_read", chatId: number, userId: number, messageId: number) {
    events.toChat(chatId, type, { chat_id: chatId, user_id: userId, message_id: messageId });
  },
  reactionsUpdated(events: EventSink, chatId: number, messageId: number, reactions: ReactionCount[]) {
    events.toChat(chatId, "reactions_updated", { chat_id: chatId, message_id: messageId, reactions });
  },
};
