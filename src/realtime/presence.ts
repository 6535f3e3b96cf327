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
    await this.app.broker.leaseAdd(userKey(userId), member, this.leaseSeconds);
    await this.app.broker.leaseAdd(KEY_ONLINE, String(userId), this.leaseSeconds);
    this.schedule(userId, false);
  }

  /** `lastLocal`: no other connection of this user remains on this instance. */
  async disconnected(userId: number, member: string, lastLocal: boolean): Promise<void> {
    await this.app.broker.leaseRemove(userKey(userId), member);
    if (!lastLocal) return;
    const left = await this.app.broker.leaseMembers(userKey(userId));
    if (left.length > 0) return;
    await this.app.broker.leaseRemove(KEY_ONLINE, String(userId));
    await this.app.db.update(users).set({ lastSeenAt: new Date() }).where(eq(users.id, userId));
    this.schedule(userId, false);
  }

  /** Heartbeat: refreshes the leases of this instance's open connections. */
  async refresh(conns: { userId: number; member: string }[]): Promise<void> {
    const ttl = this.leaseSeconds;
    const userIds = new Set<number>();
    for (const c of conns) {
      await this.app.broker.leaseAdd(userKey(c.userId), c.member, ttl);
      userIds.add(c.userId);
    }
    for (const u of userIds) await this.app.broker.leaseAdd(KEY_ONLINE, String(u), ttl);
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
    const online = (await this.app.broker.leaseMembers(userKey(userId))).length > 0;
    const previous = await this.app.broker.get(stateKey(userId));
    const state = online ? "1" : "0";
    if (previous === state || (previous === null && !online)) {
      if (!online) await this.app.broker.leaseRemove(KEY_ANNOUNCED, String(userId));
      return;
    }
    await this.app.broker.set(stateKey(userId), state, ANNOUNCED_TTL);
    if (online) await this.app.broker.leaseAdd(KEY_ANNOUNCED, String(userId), ANNOUNCED_TTL);
    else {
      await this.app.broker.leaseRemove(KEY_ANNOUNCED, String(userId));
      if (crashed) await this.app.db.update(users).set({ lastSeenAt: new Date() }).where(eq(users.id, userId));
    }
    const rows = await this.app.db
      .select({ lastSeenAt: users.lastSeenAt, privacy: users.privacyLastSeen })
      .from(users)
      .where(eq(users.id, userId))
      .limit(1);
    const me = rows[0];
    if (!me) return;
    const audience = await presenceAudience(this.app, userId, me.privacy);
    if (audience.length === 0) return;
    this.deliver(audience, { user_id: userId, is_online: online, last_seen_at: online ? null : isoOrNull(me.lastSeenAt) });
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

/** Who may hear `userId`'s presence: private-chat counterparts that privacy allows, not blocked. */
export async function presenceAudience(app: App, userId: number, privacy: PrivacyLevel): Promise<number[]> {
  if (privacy === "nobody") return [];
  const rows = await queryRows<{ user_id: number; listed: boolean; blocked: boolean }>(
    app.db,
    sql`select distinct o.user_id,
               exists (select 1 from contacts ct where ct.user_id = ${userId} and ct.contact_id = o.user_id) as listed,
               exists (select 1 from blocks b where b.user_id = ${userId} and b.blocked_id = o.user_id) as blocked
        from chat_members me
        join chats c on c.id = me.chat_id and c.type = 'private' and not c.is_saved
        join chat_members o on o.chat_id = me.chat_id and o.user_id <> me.user_id
        where me.user_id = ${userId}`,
  );
  return rows.filter((r) => !r.blocked && allows(privacy, false, Boolean(r.listed))).map((r) => Number(r.user_id));
}
