/**
 * `sessions.last_used_at`, written off the request path and in batches: a session is marked at most
 * once a minute (authenticate.ts), and the marks of one second go out as one UPDATE. A burst of
 * socket connects after a restart would otherwise cost one write per session. Best effort: a lost
 * batch only makes `last_used_at` older than it should be.
 */
import { sql } from "drizzle-orm";
import type { App } from "../app";
import { queryRows } from "../db/client";

const FLUSH_EVERY_MS = 1000;
const MAX_BATCH = 5000;

class LastUsedRecorder {
  private pending = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(private readonly app: App) {
    app.onClose(() => this.close());
  }

  mark(sessionId: string): void {
    if (this.closed) return;
    this.pending.add(sessionId);
    if (this.pending.size >= MAX_BATCH) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_EVERY_MS);
  }

  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const ids = [...this.pending];
    this.pending = new Set();
    try {
      // One JSON parameter: a single prepared statement whatever the batch size.
      await queryRows(
        this.app.db,
        sql`update sessions set last_used_at = now() where id in (select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))`,
      );
    } catch (err) {
      this.app.log.warn("could not update last_used_at", { sessions: ids.length, error: String(err) });
    }
  }

  private async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }
}

const recorders = new WeakMap<App, LastUsedRecorder>();

export function markSessionUsed(app: App, sessionId: string): void {
  let recorder = recorders.get(app);
  if (!recorder) {
    recorder = new LastUsedRecorder(app);
    recorders.set(app, recorder);
  }
  recorder.mark(sessionId);
}

/** Writes what is pending now (tests). */
export async function flushSessionUse(app: App): Promise<void> {
  await recorders.get(app)?.flush();
}
