/**
 * One tailer per instance reads the event log after its cursor, in position order, and hands each
 * batch to `deliver`, which publishes synchronously and returns; the cursor advances in the same
 * synchronous step. Every instance reads the same log in the same order, so every socket sees the
 * same order whichever instance it is on.
 *
 * Woken by this instance's own commits (local-wake-up.ts), by the broker's events channel for the
 * other instances' (a hint: Redis pub/sub may drop it), and by a fallback poll.
 * `prepare` runs before delivery (asynchronous work such as per-receiver data); the cursor cannot
 * move while it runs because only one read loop exists. Before `prepare`, the live unread counters
 * are advanced through the batch (live-counters.ts), so they follow the log in its order.
 */
import type { App } from "../app";
import type { LoggedEvent } from "./event-types";
import { LiveCounters } from "./live-counters";
import { committedHead, readLog } from "./replay";
import { decodeWakeUp, wakeUpLast } from "./wake-up";

const BATCH = 500;

export interface TailerHooks<P> {
  prepare(events: LoggedEvent[]): Promise<P>;
  deliver(events: LoggedEvent[], prepared: P): void;
}

export class Tailer<P> {
  private _cursor = 0;
  private running = false;
  private again = false;
  private stopped = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private unsubscribe: (() => Promise<void>) | undefined;
  private stopListening: (() => void) | undefined;
  /** Highest position a wake-up has kicked the loop for (the loop then reads at least that far). */
  private announced = 0;
  private reads = 0;
  private idleWaiters: (() => void)[] = [];
  private positioned = false;
  /** Unread counters for this instance's live frames, advanced by every batch read. */
  readonly counters: LiveCounters;

  constructor(
    private readonly app: App,
    private readonly hooks: TailerHooks<P>,
    private readonly pollMs = 500,
  ) {
    this.counters = new LiveCounters(app);
  }

  /** Every event at or below this position has been delivered by this instance. */
  get cursor(): number {
    return this._cursor;
  }

  /** Reads of the log so far: a wake-up that carries its events needs none. */
  get logReads(): number {
    return this.reads;
  }

  async start(): Promise<void> {
    // The database may be down while the instance starts: then the first successful read sets
    // the starting position (readiness reports the outage meanwhile).
    this.positioned = await committedHead(this.app.db).then(
      (head) => {
        this._cursor = head;
        return true;
      },
      () => false,
    );
    this.stopListening = this.app.localWakeUps.listen(this.onWakeUp);
    this.unsubscribe = await this.app.broker.subscribe(this.app.eventsChannel, this.onWakeUp);
    this.timer = setInterval(() => this.kick(), this.pollMs);
  }

  /**
   * A kick for a position not yet announced: once kicked, the loop reads at least that far (it is
   * committed), so the same wake-up arriving again (local, then from the broker) needs no read.
   */
  private readonly onWakeUp = (message: string): void => {
    const last = wakeUpLast(message);
    if (last !== null && last <= Math.max(this._cursor, this.announced)) return;
    const wake = decodeWakeUp(message);
    if (!wake) return this.kick();
    this.announced = Math.max(this.announced, wake.last);
    this.kick(wake.events);
  };

  /**
   * Wakes the read loop. `carried`: committed events from a wake-up (wake-up.ts), delivered
   * without a read only when the loop is idle and they start right after the cursor.
   */
  kick(carried?: LoggedEvent[]): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.run(carried);
  }

  /** Resolves once the tailer has read everything committed before this call (tests, resume). */
  async caughtUp(): Promise<void> {
    const head = await committedHead(this.app.db);
    while (!this.stopped && this._cursor < head) {
      await new Promise<void>((resolve) => {
        this.idleWaiters.push(resolve);
        this.kick();
      });
    }
  }

  private async run(carried?: LoggedEvent[]): Promise<void> {
    try {
      if (carried && carried.length > 0 && this.positioned && carried[0]?.seq === this._cursor + 1) {
        // Nothing lies between the cursor and these committed events: no read needed. Later
        // commits bring their own wake-up (or the poll finds them).
        await this.deliverBatch(carried);
        if (!this.again) return;
      }
      do {
        this.again = false;
        if (!this.positioned) {
          this._cursor = await committedHead(this.app.db);
          this.positioned = true;
        }
        for (;;) {
          if (this.stopped) return;
          this.reads++;
          const events = await readLog(this.app.db, this._cursor, BATCH);
          if (events.length === 0) break;
          await this.deliverBatch(events);
          if (events.length < BATCH) break;
        }
      } while (this.again);
    } catch (err) {
      if (!this.stopped) this.app.log.warn("event tailer read failed", { error: String(err) });
    } finally {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /**
   * Runs `fn` while no batch is delivered: the cursor stays where it is until `fn` settles. A socket
   * whose replay keeps missing a cursor that moves on (a reconnect storm while messages flow) is
   * caught up and subscribed inside one hold (gateway.ts).
   */
  hold<T>(fn: () => Promise<T>): Promise<T> {
    return this.serialized(fn);
  }

  /** Deliveries and holds, one at a time in call order. */
  private exclusive: Promise<void> = Promise.resolve();

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.exclusive.then(fn);
    this.exclusive = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  private deliverBatch(events: LoggedEvent[]): Promise<void> {
    return this.serialized(() => this.deliverNow(events));
  }

  /** Counters, per-receiver data, then publish and advance in one synchronous step. */
  private async deliverNow(events: LoggedEvent[]): Promise<void> {
    await this.counters.advance(events);
    const prepared = await this.hooks.prepare(events);
    if (this.stopped) return;
    this.hooks.deliver(events, prepared);
    const last = events[events.length - 1];
    if (last) this._cursor = last.seq;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.stopListening?.();
    if (this.unsubscribe) await this.unsubscribe().catch(() => {});
    for (const w of this.idleWaiters) w();
    this.idleWaiters = [];
  }
}
