/**
 * Per-receiver data on durable events. A topic publish sends the same bytes to every subscriber, so
 * personal fields cost one frame per receiver; the gateway pays that only up to
 * PERSONAL_FANOUT_LIMIT local receivers of one chat event (docs/realtime.md, "Fan-out costs").
 *
 * - `message_created`, `message_deleted`, `message_read` carry the receiver's absolute
 *   `unread_count` / `unread_mentions_count` for that chat (never deltas: a client that missed one
 *   heals on the next).
 * - a chat-level `chat_updated` (shared fields + `chat_id`) gains `chat`: the receiver's ChatRead.
 */
import { sql } from "drizzle-orm";
import type { App } from "../app";
import { queryRows } from "../db/client";
import { chatReadsFor } from "../routers/chats/read-model";
import type { EventData, LoggedEvent } from "./event-types";
import { idList } from "../db/sql-fragments";

/** Above this many local receivers of one chat event, one shared frame goes to the chat topic. */
export const PERSONAL_FANOUT_LIMIT = 100;

const COUNTER_TYPES = new Set(["message_created", "message_deleted", "message_read"]);

export interface Counters {
  unread_count: number;
  unread_mentions_count: number;
}

/** True when the event's frame differs per receiver. */
export function isPersonal(e: LoggedEvent): boolean {
  if (COUNTER_TYPES.has(e.type)) return chatIdOf(e) !== null;
  return e.type === "chat_updated" && e.chatId !== null;
}

export function chatIdOf(e: LoggedEvent): number | null {
  if (e.chatId !== null) return e.chatId;
  const d = e.data;
  if (typeof d.chat_id === "number") return d.chat_id;
  const chat = d.chat;
  if (chat && typeof chat === "object" && "id" in chat && typeof chat.id === "number") return chat.id;
  const message = d.message;
  if (message && typeof message === "object" && "chat_id" in message && typeof message.chat_id === "number") return message.chat_id;
  return null;
}

/** Absolute unread counters of `userIds` in one chat (same rules as ChatRead). */
export async function countersFor(app: App, chatId: number, userIds: number[]): Promise<Map<number, Counters>> {
  const out = new Map<number, Counters>();
  if (userIds.length === 0) return out;
  const ids = idList(userIds);
  const rows = await queryRows<{ user_id: number; unread: string | number; mentions: string | number }>(
    app.db,
    sql`select cm.user_id, count(m.id) as unread, count(mm.message_id) as mentions
        from chat_members cm
        left join messages m on m.chat_id = cm.chat_id and m.id > greatest(cm.last_read_message_id, cm.cleared_before_message_id)
          and m.sender_id <> cm.user_id and m.deleted_at is null
          and not exists (select 1 from message_hides h where h.chat_id = m.chat_id and h.user_id = cm.user_id and h.message_id = m.id)
        left join message_mentions mm on mm.chat_id = m.chat_id and mm.user_id = cm.user_id and mm.message_id = m.id
        where cm.chat_id = ${chatId} and cm.user_id in (${ids})
        group by cm.user_id`,
  );
  for (const r of rows) out.set(Number(r.user_id), { unread_count: Number(r.unread), unread_mentions_count: Number(r.mentions) });
  return out;
}

/** Personal data of each (event, receiver) pair: `personal.get(seq)?.get(userId)`. */
export type PersonalData = Map<number, Map<number, EventData>>;

/**
 * Builds the personal frames' data for `wanted`: each event with the receivers that need it.
 * Counters are read once per chat for all its receivers; ChatReads once per receiver.
 */
export async function personalize(app: App, wanted: { event: LoggedEvent; userIds: number[] }[]): Promise<PersonalData> {
  const out: PersonalData = new Map();
  const counterUsers = new Map<number, Set<number>>();
  const chatReadWanted = new Map<number, Set<number>>();
  for (const { event, userIds } of wanted) {
    const chatId = chatIdOf(event);
    if (chatId === null || userIds.length === 0) continue;
    if (COUNTER_TYPES.has(event.type)) {
      const set = counterUsers.get(chatId) ?? new Set<number>();
      for (const u of userIds) set.add(u);
      counterUsers.set(chatId, set);
    } else if (event.type === "chat_updated") {
      for (const u of userIds) {
        const set = chatReadWanted.get(u) ?? new Set<number>();
        set.add(chatId);
        chatReadWanted.set(u, set);
      }
    }
  }
  const counters = new Map<number, Map<number, Counters>>();
  await Promise.all(
    [...counterUsers].map(async ([chatId, users]) => {
      counters.set(chatId, await countersFor(app, chatId, [...users]));
    }),
  );
  const chatReads = new Map<number, Map<number, unknown>>();
  await Promise.all(
    [...chatReadWanted].map(async ([userId, chatIds]) => {
      const reads = await chatReadsFor(app, userId, [...chatIds]);
      chatReads.set(userId, new Map(reads.map((r) => [r.id, r])));
    }),
  );
  for (const { event, userIds } of wanted) {
    const chatId = chatIdOf(event);
    if (chatId === null) continue;
    const perUser = new Map<number, EventData>();
    for (const u of userIds) {
      if (COUNTER_TYPES.has(event.type)) {
        const c = counters.get(chatId)?.get(u);
        if (c) perUser.set(u, { ...event.data, ...c });
      } else {
        const chat = chatReads.get(u)?.get(chatId);
        if (chat) perUser.set(u, { ...event.data, chat });
      }
    }
    out.set(event.seq, perUser);
  }
  return out;
}

/** One user's frames' data for a replay page (resume, GET /sync). */
export async function personalizeFor(app: App, userId: number, events: LoggedEvent[]): Promise<Map<number, EventData>> {
  const wanted = events.filter(isPersonal).map((event) => ({ event, userIds: [userId] }));
  const data = await personalize(app, wanted);
  const out = new Map<number, EventData>();
  for (const [seq, perUser] of data) {
    const d = perUser.get(userId);
    if (d) out.set(seq, d);
  }
  return out;
}
