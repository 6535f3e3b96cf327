/**
 * The one way to change state: business writes and their events in one transaction, then (after
 * commit) a wake-up for the realtime tailers. Never publish what may still roll back.
 */
import type { App } from "../app";
import { EventSink, writeEvents } from "../realtime/event-log";
import { encodeWakeUp } from "../realtime/wake-up";
import type { Tx } from "./client";

/** Attempts of a transaction PostgreSQL ended to break a deadlock (or a serialization failure). */
const RETRIES_ON_CONFLICT = 3;

/**
 * Runs `fn` in a transaction whose events are written last (event-log.ts). PostgreSQL breaks a
 * deadlock by failing one of its transactions (40P01): that one is run again, whole, with a fresh
 * event sink, so the client sees its answer, not a 500. Sends once deadlocked so when a chat's
 * first receipt row was inserted meanwhile (its foreign-key check shared the chat row's lock); a
 * chat now has that row from its creation (chats/create.ts), and this stays for the cycles not
 * foreseen.
 */
export async function transact<T>(app: App, fn: (tx: Tx, events: EventSink) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transactOnce(app, fn);
    } catch (err) {
      if (attempt >= RETRIES_ON_CONFLICT || !isRetryableConflict(err)) throw err;
      app.log.warn("transaction retried after a conflict", { attempt, code: sqlStateOf(err) });
    }
  }
}

const sqlStateOf = (err: unknown): unknown => (err as { code?: unknown } | null)?.code ?? (err as { cause?: { code?: unknown } } | null)?.cause?.code;
const isRetryableConflict = (err: unknown): boolean => sqlStateOf(err) === "40P01" || sqlStateOf(err) === "40001";

async function transactOnce<T>(app: App, fn: (tx: Tx, events: EventSink) => Promise<T>): Promise<T> {
  const sink = new EventSink();
  let written: Promise<number | null> | undefined;
  let result: T;
  try {
    result = await app.db.transaction(async (tx) => {
      const value = await fn(tx, sink);
      // Sent, not awaited: the COMMIT follows it on the same connection at once, so the event-log
      // lock it takes is released without waiting for a round trip to this process (the lock
      // serialises all writers). When it fails, PostgreSQL answers that COMMIT with a rollback;
      // its own error is thrown below, and nothing is published.
      written = writeEvents(tx, sink);
      written.catch(() => {});
      return value;
    });
  } catch (err) {
    if (written) await written;
    throw err;
  }
  const lastSeq = written ? await written : null;
  if (lastSeq !== null) {
    // The wake-up carries the committed events when small (realtime/wake-up.ts); this instance's
    // tailer gets it at once, the others through the broker.
    const wakeUp = encodeWakeUp(sink.pending, lastSeq);
    app.localWakeUps.emit(wakeUp);
    app.broker.publish(app.eventsChannel, wakeUp).catch((err: unknown) => {
      // The tailers also poll, so a lost wake-up only delays delivery.
      app.log.warn("event wake-up not published", { error: String(err) });
    });
  }
  return result;
}
