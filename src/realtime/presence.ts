/**
 * Presence: a user is online while any of their connections is open on any instance (CONTRACT §8).
 *
 * Each open connection holds a broker lease `presence:u:<id>` (member `<instance>:<connection>`),
 * refreshed by its instance's heartbeat every third of PRESENCE_LEASE_SECONDS; `presence:online`
 * holds user ids the same way (one set, for asking about many users at once). A crashed instance
 * stops refreshing, so its users' leases expire by themselves; a periodic sweep (one instance per
 * period) notices users announced online whose leases are gone and announces them offline.
 *
 * Announcements are coalesced: at most one per user per second across instances (a broker gate
 * key), and only when the state differs from the last one announced (`presence:state:<id>`).
 * `last_seen_at` is written when the last connection closes (or when the sweep finds a crashed
 * instance's user gone).
 *
 * Audience (privacy, CONTRACT §4): the user's private-chat counterparts whom `privacy_last_seen`
 * allows (`contacts`: counterparts in the user's contact list) and whom the user has not blocked.
 */
import { eq, sql } from "drizzle-orm";
import type { App } from "../app";
import { queryRows } from "../db/client";
import { users } from "../db/schema";
import { isoOrNull } from "../lib/time";
import { allows } from "../routers/users/privacy";
import type { PrivacyLevel } from "../db/schema";

const KEY_ONLINE = "presence:online";
const KEY_ANNOUNCED = "presence:announced";
const KEY_SWEEP = "presence:sweep";
const userKey = (userId: number) => `presence:u:${userId}`;
const stateKey = (userId: number) => `presence:state:${userId}`;
const gateKey = (userId: number) => `presence:gate:${userId}`;
const ANNOUNCED_TTL = 7 * 24 * 3600;
/** Asking per user costs one round trip each; above this, read the whole online set once. */
const PER_USER_LOOKUP_MAX = 32;
/** Lease refreshes per broker round trip during a heartbeat. */
const REFRESH_BATCH = 1000;

/** Every user with an open realtime connection on any instance (one broker read). */
export async function allOnlineUserIds(app: App): Promise<number[]> {
  return (await app.broker.leaseMembers(KEY_ONLINE)).map(Number).filter((id) => Number.isSafeInteger(id));
}

/** Which of `userIds` have an open realtime connection on any instance. */
export async function onlineUserIds(app: App, userIds: number[]): Promise<Set<number>> {
  const ids = [...new Set(userIds)];
  if (ids.length === 0) return new Set();
  if (ids.length <= PER_USER_LOOKUP_MAX) {
    const alive = await Promise.all(ids.map(async (id) => ((await app.broker.leaseMembers(userKey(id))).length > 0 ? id : null)));
    return new Set(alive.filter((id): id is number => id !== null));
  }
  const online = new Set((await app.broker.leaseMembers(KEY_ONLINE)).map(Number));
  return new Set(ids.filter((id) => online.has(id)));
}

export interface PresenceFrameData {
  user_id: number;
  is_online: boolean;
  last_seen_at: string | null;
  [key: string]: unknown;
}

/** Delivers an ephemeral `presence` frame to these users' sockets on every instance. */
export type PresenceDeliver = (userIds: number[], data: PresenceFrameData) => void;

export class PresenceTracker {
  private pending = new Map<number, { crashed: boolean }>();
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private stopped = false;

  constructor(
    private readonly app: App,
    private readonly deliver: PresenceDeliver,
  ) {}

  get leaseSeconds(): number {
    return this.app.config.PRESENCE_LEASE_SECONDS;
  }

  async connected(userId: number, member: string): Promise<void> {
    // Both in flight at once: one broker round trip per connect.
    await Promise.all([this.app.broker.leaseAdd(userKey(userId), member, this.leaseSeconds), this.app.broker.leaseAdd(KEY_ONLINE, String(userId), this.leaseSeconds)]);
    this.schedule(userId, false);
  }

  /** `lastLocal`: no other connection of this user remains on this instance. */
  async disconnected(userId: number, member: string, lastLocal: boolean): Promise<void> {
    // last_seen_at is written before the lease goes: a reader who sees the user offline must also
    // see when they were last online (written needlessly, and later rewritten, if another instance
    // still holds a connection).
    if (lastLocal) {
      await this.app.db
        .update(users)
        .set({ lastSeenAt: new Date() })
        .where(eq(users.id, userId))
        .catch((err: unknown) => this.app.log.warn("last_seen_at not written", { user_id: userId, error: String(err) }));
    }
    await this.app.broker.leaseRemove(userKey(userId), member);
    if (!lastLocal) return;
    const left = await this.app.broker.leaseMembers(userKey(userId));
    if (left.length > 0) return;
    await this.app.broker.leaseRemove(KEY_ONLINE, String(userId));
    this.schedule(userId, false);
  }

  /** Heartbeat: refreshes the leases of this instance's open connections (pipelined in batches). */
  async refresh(conns: { userId: number; member: string }[]): Promise<void> {
    const entries: [string, string][] = conns.map((c) => [userKey(c.userId), c.member]);
    for (const u of new Set(conns.map((c) => c.userId))) entries.push([KEY_ONLINE, String(u)]);
    for (let i = 0; i < entries.length; i += REFRESH_BATCH) await this.app.broker.leaseAddMany(entries.slice(i, i + REFRESH_BATCH), this.leaseSeconds);
  }

  /** Finds users announced online whose every lease expired (a crashed instance) and announces them. */
  async sweep(periodSeconds: number): Promise<void> {
    if (!(await this.app.broker.setIfAbsent(KEY_SWEEP, this.app.instanceId, periodSeconds))) return;
    const announced = await this.app.broker.leaseMembers(KEY_ANNOUNCED);
    if (announced.length === 0) return;
    const online = new Set(await this.app.broker.leaseMembers(KEY_ONLINE));
    for (const member of announced) {
      if (online.has(member)) continue;
      const userId = Number(member);
      if (Number.isSafeInteger(userId)) this.schedule(userId, true);
    }
  }

  /** Announces the user's state soon: at most once per second per user, across instances. */
  schedule(userId: number, crashed: boolean): void {
    if (this.stopped) return;
    const entry = this.pending.get(userId);
    if (entry) {
      entry.crashed ||= crashed;
      return;
    }
    this.pending.set(userId, { crashed });
    void this.attempt(userId);
  }

  private later(fn: () => void, ms: number) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private async attempt(userId: number): Promise<void> {
    try {
      if (this.stopped) return;
      if (!(await this.app.broker.setIfAbsent(gateKey(userId), this.app.instanceId, 1))) {
        this.later(() => void this.attempt(userId), 250);
        return;
      }
      const crashed = this.pending.get(userId)?.crashed ?? false;
      this.pending.delete(userId);
      await this.announce(userId, crashed);
    } catch (err) {
      this.pending.delete(userId);
      if (!this.stopped) this.app.log.warn("presence announcement failed", { user_id: userId, error: String(err) });
    }
  }

  private async announce(userId: number, crashed: boolean): Promise<void> {
    const broker = this.app.broker;
    const [leases, previous] = await Promise.all([broker.leaseMembers(userKey(userId)), broker.get(stateKey(userId))]);
    const online = leases.length > 0;
    const state = online ? "1" : "0";
    if (previous === state || (previous === null && !online)) {
      if (!online) await broker.leaseRemove(KEY_ANNOUNCED, String(userId));
      return;
    }
    await Promise.all([
      broker.set(stateKey(userId), state, ANNOUNCED_TTL),
      online ? broker.leaseAdd(KEY_ANNOUNCED, String(userId), ANNOUNCED_TTL) : broker.leaseRemove(KEY_ANNOUNCED, String(userId)),
    ]);
    if (!online && crashed) await this.app.db.update(users).set({ lastSeenAt: new Date() }).where(eq(users.id, userId));
    const who = await presenceAudienceOf(this.app, userId);
    if (!who || who.audience.length === 0) return;
    this.deliver(who.audience, { user_id: userId, is_online: online, last_seen_at: online ? null : isoOrNull(who.lastSeenAt) });
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

interface AudienceRow {
  privacy: PrivacyLevel;
  last_seen_at: Date | string | null;
  user_id: number | null;
  listed: boolean | null;
  blocked: boolean | null;
}

/**
 * The user's privacy, `last_seen_at` and private-chat counterparts in one query (an announcement
 * runs on most connects): one row per counterpart, or one row with a null `user_id` when there is
 * none; no row when the user does not exist.
 */
function audienceRows(app: App, userId: number): Promise<AudienceRow[]> {
  return queryRows<AudienceRow>(
    app.db,
    sql`select u.privacy_last_seen as privacy, u.last_seen_at, a.user_id, a.listed, a.blocked
        from users u
        left join lateral (
          select distinct o.user_id,
                 exists (select 1 from contacts ct where ct.user_id = u.id and ct.contact_id = o.user_id) as listed,
                 exists (select 1 from blocks b where b.user_id = u.id and b.blocked_id = o.user_id) as blocked
          from chat_members me
          join chats c on c.id = me.chat_id and c.type = 'private' and not c.is_saved
          join chat_members o on o.chat_id = me.chat_id and o.user_id <> me.user_id
          where me.user_id = u.id
        ) a on true
        where u.id = ${userId}`,
  );
}

const allowedAudience = (rows: AudienceRow[], privacy: PrivacyLevel): number[] =>
  rows.filter((r) => r.user_id !== null && !r.blocked && allows(privacy, false, Boolean(r.listed))).map((r) => Number(r.user_id));

/** The user's `last_seen_at` and who may hear their presence now; null when the user is gone. */
export async function presenceAudienceOf(app: App, userId: number): Promise<{ lastSeenAt: Date | null; audience: number[] } | null> {
  const rows = await audienceRows(app, userId);
  const first = rows[0];
  if (!first) return null;
  return { lastSeenAt: first.last_seen_at === null ? null : new Date(first.last_seen_at), audience: allowedAudience(rows, first.privacy) };
}

/** Who may hear `userId`'s presence under `privacy`: private-chat counterparts it allows, not blocked. */
export async function presenceAudience(app: App, userId: number, privacy: PrivacyLevel): Promise<number[]> {
  if (privacy === "nobody") return [];
  return allowedAudience(await audienceRows(app, userId), privacy);
}
