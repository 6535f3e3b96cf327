/**
 * Per-receiver data on durable events. A topic publish sends the same bytes to every subscriber, so
 * personal fields cost one frame per receiver; the gateway pays that only up to
 * PERSONAL_FANOUT_LIMIT local receivers of one chat event (docs/realtime.md, "Fan-out costs").
 *
 * - `message_created`, `message_updated`, `message_deleted`, `message_read` carry the receiver's absolute
 *   `unread_count` / `unread_mentions_count` for that chat (never deltas: a client that missed one
 *   heals on the next).
 * - a chat-level `chat_updated` (shared fields + `chat_id`) gains `chat`: the receiver's ChatRead.
 */
import { sql } from "drizzle-orm";
import type { App } from "../app";
import { queryRows } from "../db/client";
import { chatReadsFor } from "../routers/chats/read-model";
import { intArray } from "../db/sql-fragments";
import type { EventData, LoggedEvent } from "./event-types";
import { countersQuery, type CounterRow, type Counters, type LiveCounters } from "./live-counters";

/** Above this many local receivers of one chat event, one shared frame goes to the chat topic. */
export const PERSONAL_FANOUT_LIMIT = 100;

const COUNTER_TYPES = new Set(["message_created", "message_updated", "message_deleted", "message_read"]);

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

/** Absolute unread counters of one user in `chatIds` (same rules as ChatRead), one query. */
export async function countersOfUser(app: App, userId: number, chatIds: number[]): Promise<Map<number, Counters>> {
  const out = new Map<number, Counters>();
  if (chatIds.length === 0) return out;
  const rows = await queryRows<CounterRow>(app.db, countersQuery(sql`select unnest(${intArray(chatIds)}::int[]) as chat_id, ${userId}::int as user_id`, 0));
  for (const r of rows) out.set(Number(r.chat_id), { unread_count: Number(r.unread), unread_mentions_count: Number(r.mentions) });
  return out;
}

/** Personal data of each (event, receiver) pair: `personal.get(seq)?.get(userId)`. */
export type PersonalData = Map<number, Map<number, EventData>>;

/** Where counters come from: the tailer's live counters, or one query for a replaying user's page. */
type CounterSource = { live: LiveCounters } | { userId: number };

/**
 * Builds the personal frames' data for `wanted`: each event with the receivers that need it.
 * Live frames (the tailer's batch) take counters from `live`, which the tailer has advanced
 * through this batch; a message_created frame counts up to its own message. ChatReads are read
 * once per receiver.
 */
export async function personalize(app: App, wanted: { event: LoggedEvent; userIds: number[] }[], live: LiveCounters): Promise<PersonalData> {
  return build(app, wanted, { live });
}

async function build(app: App, wanted: { event: LoggedEvent; userIds: number[] }[], source: CounterSource): Promise<PersonalData> {
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
  let countersOf: (chatId: number, userId: number, event: LoggedEvent) => Counters | undefined;
  if ("live" in source) {
    const { live } = source;
    await Promise.all([...counterUsers].map(([chatId, users]) => live.ensure(chatId, users)));
    countersOf = (chatId, userId, event) => live.peek(chatId, userId, event.type === "message_created" ? createdId(event) : undefined);
  } else {
    const counters = await countersOfUser(app, source.userId, [...counterUsers.keys()]);
    countersOf = (chatId) => counters.get(chatId);
  }
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
        const c = countersOf(chatId, u, event);
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

function createdId(e: LoggedEvent): number | undefined {
  const m = e.data.message;
  return m && typeof m === "object" && "id" in m && typeof m.id === "number" ? m.id : undefined;
}

/** A user-level `chat_updated`: the ChatRead stored when it was written. */
const isUserChatUpdate = (e: LoggedEvent) => e.type === "chat_updated" && e.chatId === null && e.userId !== null;

/**
 * One user's frames' data for a replay page (resume, GET /sync). A user-level `chat_updated` is
 * rendered again too: its stored ChatRead shows the last message of that moment, which may have
 * been deleted since (CONTRACT §6); without a view of the chat now it keeps its stored fields but
 * no last message.
 */
export async function personalizeFor(app: App, userId: number, events: LoggedEvent[]): Promise<Map<number, EventData>> {
  const wanted = events.filter((e) => isPersonal(e) || isUserChatUpdate(e)).map((event) => ({ event, userIds: [userId] }));
  const data = await build(app, wanted, { userId });
  const out = new Map<number, EventData>();
  for (const { event } of wanted) {
    const d = data.get(event.seq)?.get(userId);
    if (d) out.set(event.seq, d);
    else if (isUserChatUpdate(event)) out.set(event.seq, withoutLastMessage(event.data));
  }
  return out;
}

function withoutLastMessage(data: EventData): EventData {
  const chat = data.chat;
  if (!chat || typeof chat !== "object") return data;
  return { ...data, chat: { ...chat, last_message_text: null, last_message_type: null, last_message_created_at: null } };
}
