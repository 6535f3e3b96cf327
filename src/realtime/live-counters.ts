/**
 * Unread counters for live frames, kept in step with the event log by the tailer instead of being
 * counted per event. Counting "messages after the read mark" row by row cost O(unread) per
 * receiver (scenario 5 of the benchmark: p50 71 ms for a 100-member chat, most of it this count);
 * counts now come from message positions (chats/unread.ts), but a frame still needs the receiver's
 * newest counted ids and one query per (chat, receiver) set, which the entries save.
 *
 * An entry is counted once (one query for all the missing receivers of a chat), then advanced by
 * the events the tailer reads, in log order:
 * - `message_created` X by someone else, above the mark: counted (mention from message_mentions);
 * - `message_read` of the receiver: ids up to the new mark leave;
 * - `message_deleted` (for all, or the receiver's own "for me"): X leaves;
 * - anything it cannot interpret for a counted message (an edit may change mentions, a membership
 *   or history change of the receiver, an unknown type, a chat deleted) drops the entry, and the
 *   next frame counts it again.
 *
 * An entry keeps the newest KEEP counted ids individually and only the number of older ones (all
 * below `olderMax`), so memory is bounded per entry; MAX_ENTRIES bounds the whole (least recently
 * used first out). A read or delete that reaches into the older part cannot be applied exactly and
 * drops the entry. Entries also expire after ENTRY_TTL_MS, so a change no event describes (none is
 * known today; a future cascade or maintenance write) heals within that time, like the absolute
 * counters of docs/realtime.md promise.
 *
 * Applying an event twice, or an event whose effect the first count already saw (the count reads
 * the database now, which may be ahead of the tailer), changes nothing: ids are a set and marks only
 * move forward. This is what makes counting "now" and then advancing from an older position safe.
 * ChatRead's `unread_count` is never served from here: the chat list counts exactly.
 */
import { sql, type SQL } from "drizzle-orm";
import type { App } from "../app";
import { queryRows } from "../db/client";
import { intArray } from "../db/sql-fragments";
import { unreadCountsQuery } from "../routers/chats/unread";
import type { LoggedEvent } from "./event-types";

export interface Counters {
  unread_count: number;
  unread_mentions_count: number;
}

const KEEP = 32;
/** Messages above the mark read at most to find the KEEP newest counted ones. */
const WALK = 4 * KEEP;
const MAX_ENTRIES = 20_000;
const ENTRY_TTL_MS = 5 * 60_000;

interface Entry {
  chatId: number;
  userId: number;
  /** greatest(last_read_message_id, cleared_before_message_id): nothing at or below counts. */
  mark: number;
  /** Counted ids, ascending, at most KEEP. */
  ids: number[];
  /** The subset of `ids` that mention the receiver. */
  mentioned: Set<number>;
  /** Counted ids below `ids`, all at or below `olderMax`. */
  older: number;
  olderMentions: number;
  olderMax: number;
  countedAt: number;
}

const keyOf = (chatId: number, userId: number) => `${chatId}:${userId}`;

/**
 * The counting statement: for each `(chat_id, user_id)` row of `pairs` that is a membership, its
 * mark, counts and newest `keep` counted ids. Driven by the pairs (a primary-key probe each, never
 * a walk of a user's memberships). The counts come from message positions (chats/unread.ts), so
 * they cost the same whatever the member left unread; the newest counted ids come from a walk of
 * at most WALK messages above the mark (`walk_floor`: the lowest id walked when the walk was cut,
 * so counted ids not kept individually lie below it).
 */
export function countersQuery(pairs: SQL, keep: number): SQL {
  const k = sql.raw(String(keep));
  const mark = sql`greatest(cm.last_read_message_id, cm.cleared_before_message_id)`;
  const recent =
    keep > 0
      ? sql`cross join lateral (
          select (array_agg(w.id order by w.id desc) filter (where w.counted))[1:${k}] as recent,
                 (array_agg(w.id order by w.id desc) filter (where w.counted and w.mentioned))[1:${k}] as recent_mentions,
                 case when count(*) = ${sql.raw(String(WALK))} then min(w.id) end as walk_floor
          from (
            select m.id, m.counted,
              m.counted and exists (select 1 from message_mentions mm where mm.chat_id = cm.chat_id and mm.user_id = cm.user_id and mm.message_id = m.id) as mentioned
            from (
              select m.id, m.sender_id <> cm.user_id and m.deleted_at is null
                and not exists (select 1 from message_hides h where h.chat_id = m.chat_id and h.user_id = cm.user_id and h.message_id = m.id) as counted
              from messages m
              where m.chat_id = cm.chat_id and m.id > ${mark}
              order by m.id desc
              limit ${sql.raw(String(WALK))}
            ) m
          ) w
        ) r`
      : sql`cross join lateral (select null::bigint[] as recent, null::bigint[] as recent_mentions, null::bigint as walk_floor) r`;
  return sql`select cm.chat_id, cm.user_id, ${mark} as mark, u.unread, u.mentions, r.recent, r.recent_mentions, r.walk_floor
        from (${pairs}) p
        join chat_members cm on cm.chat_id = p.chat_id and cm.user_id = p.user_id
        join chats c on c.id = cm.chat_id
        cross join lateral (${unreadCountsQuery({ chatId: sql`cm.chat_id`, messageCount: sql`c.message_count`, userId: sql`cm.user_id`, mark })}) u
        ${recent}`;
}

export interface CounterRow {
  chat_id: number | string;
  user_id: number | string;
  mark: number | string;
  unread: number | string;
  mentions: number | string;
  recent: (number | string)[] | string | null;
  recent_mentions: (number | string)[] | string | null;
  walk_floor: number | string | null;
}

/** postgres.js answers arrays, PGlite may answer the text form `{1,2}`. */
function numbers(v: (number | string)[] | string | null): number[] {
  if (v === null) return [];
  if (typeof v === "string") return v.replace(/[{}]/g, "").split(",").filter(Boolean).map(Number);
  return v.map(Number);
}

export class LiveCounters {
  private readonly entries = new Map<string, Entry>();
  private readonly byChat = new Map<number, Set<number>>();

  constructor(
    private readonly app: App,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Applies one batch of the log, in order (the tailer calls this before delivering it). */
  async advance(events: LoggedEvent[]): Promise<void> {
    if (this.entries.size === 0) return;
    let mentions: Map<number, Set<number>>;
    try {
      mentions = await this.mentionsOf(events);
    } catch (err) {
      this.clear();
      throw err;
    }
    for (const e of events) this.apply(e, mentions);
  }

  /**
   * Counters of `userIds` in `chatId` after the events advanced so far; `atMessageId` (a
   * message_created frame) counts only up to that message. Missing or expired entries are counted
   * with one query.
   */
  async countersFor(chatId: number, userIds: number[], atMessageId?: number): Promise<Map<number, Counters>> {
    await this.ensure(chatId, userIds);
    const out = new Map<number, Counters>();
    for (const u of userIds) {
      const c = this.peek(chatId, u, atMessageId);
      if (c) out.set(u, c);
    }
    return out;
  }

  /** Counts the missing or expired entries of `userIds` in `chatId` (one query). */
  async ensure(chatId: number, userIds: Iterable<number>): Promise<void> {
    const now = this.now();
    const missing = [...userIds].filter((u) => {
      const e = this.entries.get(keyOf(chatId, u));
      return !e || now - e.countedAt > ENTRY_TTL_MS;
    });
    if (missing.length > 0) await this.count(chatId, missing);
  }

  /** The counters of an entry `ensure` made (undefined for a user who is not a member). */
  peek(chatId: number, userId: number, atMessageId?: number): Counters | undefined {
    const e = this.touch(chatId, userId);
    return e && countersOf(e, atMessageId);
  }

  clear(): void {
    this.entries.clear();
    this.byChat.clear();
  }

  private async count(chatId: number, userIds: number[]): Promise<void> {
    const rows = await queryRows<CounterRow>(this.app.db, countersQuery(sql`select ${chatId}::int as chat_id, unnest(${intArray(userIds)}::int[]) as user_id`, KEEP));
    const countedAt = this.now();
    for (const u of userIds) this.drop(chatId, u);
    for (const r of rows) {
      const ids = numbers(r.recent).reverse();
      const recentMentions = new Set(numbers(r.recent_mentions));
      const mentioned = new Set(ids.filter((id) => recentMentions.has(id)));
      const unread = Number(r.unread);
      const first = ids[0] ?? (r.walk_floor === null ? undefined : Number(r.walk_floor));
      this.put({
        chatId,
        userId: Number(r.user_id),
        mark: Number(r.mark),
        ids,
        mentioned,
        older: unread - ids.length,
        olderMentions: Number(r.mentions) - mentioned.size,
        olderMax: first === undefined ? 0 : first - 1,
        countedAt,
      });
    }
  }

  /** Who is mentioned by the created messages of this batch that an entry may count. */
  private async mentionsOf(events: LoggedEvent[]): Promise<Map<number, Set<number>>> {
    const wanted: { chatId: number; messageId: number }[] = [];
    for (const e of events) {
      if (e.type !== "message_created" || e.chatId === null || !this.byChat.has(e.chatId)) continue;
      const m = messageOf(e);
      // Mentions are stored only for `@name` in the text (messages/compose.ts).
      if (m && typeof m.text === "string" && m.text.includes("@")) wanted.push({ chatId: e.chatId, messageId: m.id });
    }
    const out = new Map<number, Set<number>>();
    if (wanted.length === 0) return out;
    const pairs = sql.join(
      wanted.map((w) => sql`(${w.chatId}::int, ${w.messageId}::bigint)`),
      sql`, `,
    );
    const rows = await queryRows<{ message_id: number | string; user_id: number | string }>(
      this.app.db,
      sql`select message_id, user_id from message_mentions where (chat_id, message_id) in (${pairs})`,
    );
    for (const r of rows) {
      const id = Number(r.message_id);
      let set = out.get(id);
      if (!set) out.set(id, (set = new Set()));
      set.add(Number(r.user_id));
    }
    return out;
  }

  private apply(e: LoggedEvent, mentions: Map<number, Set<number>>): void {
    if (e.chatId !== null) {
      const users = this.byChat.get(e.chatId);
      if (!users) return;
      const chatId = e.chatId;
      const each = (f: (entry: Entry) => boolean) => {
        for (const u of [...users]) {
          const entry = this.entries.get(keyOf(chatId, u));
          if (entry && !f(entry)) this.drop(chatId, u);
        }
      };
      switch (e.type) {
        case "message_created": {
          const m = messageOf(e);
          if (!m) return this.dropChat(chatId);
          return each((entry) => created(entry, m.id, m.sender_id, mentions.get(m.id)?.has(entry.userId) ?? false));
        }
        case "message_deleted": {
          const id = e.data.message_id;
          if (typeof id !== "number") return this.dropChat(chatId);
          return each((entry) => removed(entry, id));
        }
        case "message_read": {
          const { user_id: userId, message_id: id } = e.data;
          if (typeof userId !== "number" || typeof id !== "number") return this.dropChat(chatId);
          const entry = this.entries.get(keyOf(chatId, userId));
          if (entry && !read(entry, id)) this.drop(chatId, userId);
          return;
        }
        case "message_updated": {
          const m = messageOf(e);
          if (!m) return this.dropChat(chatId);
          // An edit may change who is mentioned: fine only where the message does not count.
          return each((entry) => !counts(entry, m.id));
        }
        case "message_delivered":
        case "reactions_updated":
        case "chat_updated":
          return;
        default:
          return this.dropChat(chatId);
      }
    }
    if (e.userId === null) return;
    const chatId = userEventChatId(e);
    if (chatId === null) return;
    const entry = this.entries.get(keyOf(chatId, e.userId));
    if (!entry) return;
    if (e.type === "notification") return;
    if (e.type === "message_deleted" && typeof e.data.message_id === "number" && removed(entry, e.data.message_id)) return;
    // Membership, history clearing, or anything else about this user in this chat: count again.
    this.drop(chatId, e.userId);
  }

  private put(entry: Entry): void {
    this.entries.set(keyOf(entry.chatId, entry.userId), entry);
    let users = this.byChat.get(entry.chatId);
    if (!users) this.byChat.set(entry.chatId, (users = new Set()));
    users.add(entry.userId);
    while (this.entries.size > MAX_ENTRIES) {
      const oldest = this.entries.values().next().value;
      if (!oldest) break;
      this.drop(oldest.chatId, oldest.userId);
    }
  }

  /** The entry, moved to the most recently used end. */
  private touch(chatId: number, userId: number): Entry | undefined {
    const key = keyOf(chatId, userId);
    const e = this.entries.get(key);
    if (e) {
      this.entries.delete(key);
      this.entries.set(key, e);
    }
    return e;
  }

  private drop(chatId: number, userId: number): void {
    this.entries.delete(keyOf(chatId, userId));
    const users = this.byChat.get(chatId);
    if (!users) return;
    users.delete(userId);
    if (users.size === 0) this.byChat.delete(chatId);
  }

  private dropChat(chatId: number): void {
    for (const u of [...(this.byChat.get(chatId) ?? [])]) this.drop(chatId, u);
  }
}

function messageOf(e: LoggedEvent): { id: number; sender_id: number; text?: unknown } | null {
  const m = e.data.message;
  if (!m || typeof m !== "object" || !("id" in m) || !("sender_id" in m)) return null;
  const { id, sender_id } = m as { id: unknown; sender_id: unknown };
  if (typeof id !== "number" || typeof sender_id !== "number") return null;
  return m as { id: number; sender_id: number; text?: unknown };
}

function userEventChatId(e: LoggedEvent): number | null {
  const d = e.data;
  if (typeof d.chat_id === "number") return d.chat_id;
  const chat = d.chat;
  if (chat && typeof chat === "object" && "id" in chat && typeof chat.id === "number") return chat.id;
  return null;
}

function countersOf(e: Entry, atMessageId?: number): Counters {
  let unread = e.older + e.ids.length;
  let mentions = e.olderMentions + e.mentioned.size;
  if (atMessageId !== undefined) {
    for (let i = e.ids.length - 1; i >= 0 && (e.ids[i] ?? 0) > atMessageId; i--) {
      unread--;
      if (e.mentioned.has(e.ids[i] ?? 0)) mentions--;
    }
  }
  return { unread_count: unread, unread_mentions_count: mentions };
}

/** True when `id` is (or may be) among the counted messages. */
function counts(e: Entry, id: number): boolean {
  if (id <= e.mark) return false;
  return e.ids.includes(id) || (e.older > 0 && id <= e.olderMax);
}

/** Each step answers false when the entry can no longer be kept exactly (it is then dropped). */
function created(e: Entry, id: number, senderId: number, mentioned: boolean): boolean {
  if (senderId === e.userId || id <= e.mark || e.ids.includes(id)) return true;
  // Below the individually kept ids: the count already included it (or it is gone since).
  if (e.older > 0 && id <= e.olderMax) return true;
  let at = e.ids.length;
  while (at > 0 && (e.ids[at - 1] ?? 0) > id) at--;
  e.ids.splice(at, 0, id);
  if (mentioned) e.mentioned.add(id);
  while (e.ids.length > KEEP) {
    const oldest = e.ids.shift() ?? 0;
    e.older++;
    if (e.mentioned.delete(oldest)) e.olderMentions++;
    e.olderMax = Math.max(e.olderMax, oldest);
  }
  return true;
}

function removed(e: Entry, id: number): boolean {
  if (id <= e.mark) return true;
  const i = e.ids.indexOf(id);
  if (i >= 0) {
    e.ids.splice(i, 1);
    e.mentioned.delete(id);
    return true;
  }
  // In the older part we cannot tell whether it was counted.
  return !(e.older > 0 && id <= e.olderMax);
}

function read(e: Entry, mark: number): boolean {
  if (mark <= e.mark) return true;
  if (e.older > 0 && mark < e.olderMax) return false;
  e.mark = mark;
  e.older = 0;
  e.olderMentions = 0;
  while (e.ids.length > 0 && (e.ids[0] ?? 0) <= mark) {
    const id = e.ids.shift() ?? 0;
    e.mentioned.delete(id);
  }
  return true;
}
