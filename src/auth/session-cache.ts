/**
 * Sessions PostgreSQL confirmed a moment ago, so a burst of requests or socket connects on one
 * token costs one session lookup instead of one each.
 *
 * Why this cannot outlive a revocation by more than the contract's second (CONTRACT §3: "refused
 * within one second, on every instance"):
 * - an entry is trusted for at most SESSION_CACHE_MS (≤ 1000) counted from the moment the lookup
 *   that confirmed it *started*, so a revocation committed while that lookup ran is covered too;
 * - revoking drops the entries on the revoking instance at once (revocation.ts) and, through the
 *   broker's `sessions:revoked` message, on every other instance; the TTL is the bound only when
 *   that fire-and-forget message is lost.
 * Only confirmations are cached, never refusals, and the map is bounded.
 */
import type { App } from "../app";
import { revokedSessionIds, SESSIONS_REVOKED_CHANNEL } from "./revocation";

export interface ConfirmedSession {
  userId: number;
  expiresAt: number;
  lastUsedAt: number;
}

interface Entry extends ConfirmedSession {
  trustedUntil: number;
}

const MAX_ENTRIES = 50_000;

export class SessionCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly ttlMs: number) {}

  get(sessionId: string, now = Date.now()): ConfirmedSession | null {
    const entry = this.entries.get(sessionId);
    if (!entry) return null;
    if (now >= entry.trustedUntil || now >= entry.expiresAt) {
      this.entries.delete(sessionId);
      return null;
    }
    return entry;
  }

  /** `lookupStartedAt`: when the query that confirmed the session was sent. */
  remember(sessionId: string, session: ConfirmedSession, lookupStartedAt: number): void {
    if (this.ttlMs <= 0) return;
    this.dropLapsed(lookupStartedAt);
    if (this.entries.size >= MAX_ENTRIES) {
      // Oldest first (Map keeps insertion order); a dropped entry only costs one lookup.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.delete(sessionId);
    this.entries.set(sessionId, { ...session, trustedUntil: lookupStartedAt + this.ttlMs });
  }

  /**
   * Entries are (re)inserted in the order their trust began and all trust for the same TTL, so the
   * lapsed ones are at the front: idle sessions (a socket that connected once) hold no memory.
   */
  private dropLapsed(now: number): void {
    for (const [id, entry] of this.entries) {
      if (now < entry.trustedUntil) return;
      this.entries.delete(id);
    }
  }

  markUsed(sessionId: string, at: number): void {
    const entry = this.entries.get(sessionId);
    if (entry) entry.lastUsedAt = at;
  }

  forget(sessionIds: readonly string[]): void {
    for (const id of sessionIds) this.entries.delete(id);
  }

  get size(): number {
    return this.entries.size;
  }
}

const caches = new WeakMap<App, SessionCache>();

/** The app's cache, listening to revocations from every instance from its first use on. */
export function sessionCacheFor(app: App): SessionCache {
  let cache = caches.get(app);
  if (cache) return cache;
  const created = new SessionCache(app.config.SESSION_CACHE_MS);
  caches.set(app, created);
  cache = created;
  if (app.config.SESSION_CACHE_MS > 0) {
    const subscribed = app.broker
      .subscribe(SESSIONS_REVOKED_CHANNEL, (message) => created.forget(revokedSessionIds(message) ?? []))
      .catch((err: unknown) => {
        // Without the subscription the TTL alone bounds staleness (still within the contract).
        app.log.warn("session cache: no revocation subscription", { error: String(err) });
        return null;
      });
    app.onClose(async () => {
      const unsubscribe = await subscribed;
      if (unsubscribe) await unsubscribe().catch(() => {});
    });
  }
  return cache;
}
