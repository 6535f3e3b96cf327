/**
 * One tailer per instance reads the event log after its cursor, in position order, and hands each
 * batch to `deliver`, which publishes synchronously and returns; the cursor advances in the same
 * synchronous step. Every instance reads the same log in the same order, so every socket sees the
 * same order whichever instance it is on.
 *
 * Woken by the broker's events channel (a hint: Redis pub/sub may drop it) and by a fallback poll.
 * `prepare` runs before delivery (asynchronous work such as per-receiver data); the cursor cannot
 * move while it runs because only one read loop exists.
 */
import type { App } from "../app";
import type { LoggedEvent } from "./event-types";
import { committedHead, readLog } from "./replay";

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
  private idleWaiters: (() => void)[] = [];
  private positioned = false;

  constructor(
    private readonly app: App,
    private readonly hooks: TailerHooks<P>,
    private readonly pollMs = 500,
  ) {}

  /** Every event at or below this position has been delivered by this instance. */
  get cursor(): number {
    return this._cursor;
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
    this.unsubscribe = await this.app.broker.subscribe(this.app.eventsChannel, (message) => {
      const seq = Number(message);
      if (!Number.isFinite(seq) || seq > this._cursor) this.kick();
    });
    this.timer = setInterval(() => this.kick(), this.pollMs);
  }

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.run();
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

  private async run(): Promise<void> {
    try {
      do {
        this.again = false;
        if (!this.positioned) {
          this._cursor = await committedHead(this.app.db);
          this.positioned = true;
        }
        for (;;) {
          if (this.stopped) return;
          const events = await readLog(this.app.db, this._cursor, BATCH);
          if (events.length === 0) break;
          const prepared = await this.hooks.prepare(events);
          if (this.stopped) return;
          this.hooks.deliver(events, prepared);
          const last = events[events.length - 1];
          if (last) this._cursor = last.seq;
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

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.unsubscribe) await this.unsubscribe().catch(() => {});
    for (const w of this.idleWaiters) w();
    this.idleWaiters = [];
  }
}
