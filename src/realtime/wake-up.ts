/**
 * The message `transact` publishes on the events channel after a commit. It always names the
 * transaction's highest position; when small enough it also carries the committed events
 * themselves, so a tailer whose cursor is exactly before them delivers them without reading the
 * log (the Redis hop plus a PostgreSQL read was most of the delay a second instance added).
 *
 * The log stays the source of truth: a tailer that is busy, or whose cursor is not exactly one
 * below the first carried position, ignores the events and reads the log as before, and the
 * fallback poll still runs. The message is a hint that may be lost, never a second path that
 * could skip or reorder anything.
 *
 * Carried events must look exactly like the ones read back from the log, so that every instance
 * sends the same bytes whichever path it took: their data is re-ordered the way jsonb stores an
 * object (shorter keys first, then byte order). Older instances read the message as a number and,
 * finding none, simply read the log.
 */
import type { DurableEventType, EventData, LoggedEvent } from "./event-types";

/** Above this many characters the message only names the position. */
const MAX_CARRIED_CHARS = 32 * 1024;

export interface PendingEvent {
  chatId: number | null;
  userId: number | null;
  type: DurableEventType;
  data: EventData;
}

export interface WakeUp {
  /** Highest position the transaction committed. */
  last: number;
  /** Its events in position order (last - n + 1 … last), when carried. */
  events?: LoggedEvent[];
}

interface Carried {
  last: number;
  events: [number | null, number | null, string, EventData][];
}

/**
 * The message for a transaction whose `pending` events took the positions ending at `last`.
 * Positions are drawn in one run under the event-log lock (event-log.ts), so they are
 * `last - n + 1 … last` in emission order.
 */
export function encodeWakeUp(pending: readonly PendingEvent[], last: number): string {
  const carried: Carried = { last, events: pending.map((e) => [e.chatId, e.userId, e.type, e.data]) };
  const text = JSON.stringify(carried);
  return text.length <= MAX_CARRIED_CHARS ? text : String(last);
}

const CARRIED_PREFIX = '{"last":';

/**
 * The position a wake-up names, read without parsing its events (null when unreadable): each
 * instance gets its own commits twice (directly and back from the broker) and drops the second.
 */
export function wakeUpLast(message: string): number | null {
  if (!message.startsWith(CARRIED_PREFIX)) {
    const last = Number(message);
    return message.length > 0 && Number.isFinite(last) ? last : null;
  }
  const end = message.indexOf(",", CARRIED_PREFIX.length);
  const last = Number(message.slice(CARRIED_PREFIX.length, end));
  return end > 0 && Number.isFinite(last) ? last : null;
}

export function decodeWakeUp(message: string): WakeUp | null {
  if (!message.startsWith("{")) {
    const last = Number(message);
    return Number.isFinite(last) ? { last } : null;
  }
  try {
    const m = JSON.parse(message) as Partial<Carried>;
    if (typeof m.last !== "number" || !Array.isArray(m.events)) return null;
    const first = m.last - m.events.length + 1;
    const createdAt = new Date();
    const events = m.events.map(([chatId, userId, type, data], i): LoggedEvent => ({
      seq: first + i,
      chatId,
      userId,
      type: type as DurableEventType,
      data: jsonbOrder(data) as EventData,
      createdAt,
    }));
    return { last: m.last, events };
  } catch {
    return null;
  }
}

const utf8 = new TextEncoder();

/** jsonb's key order: shorter keys first (in bytes), then byte order. */
function compareKeys(a: string, b: string): number {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  if (x.length !== y.length) return x.length - y.length;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

/** `value` with every object's keys in the order jsonb gives them back. */
export function jsonbOrder(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(jsonbOrder);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  const source = value as Record<string, unknown>;
  for (const key of Object.keys(source).sort(compareKeys)) out[key] = jsonbOrder(source[key]);
  return out;
}
