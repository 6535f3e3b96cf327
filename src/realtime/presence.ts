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
import { sql } from "drizzle-orm";
import type { App } from "../app";
import { presenceKeys, type PresenceOutcome, type PresenceStep } from "../broker/broker";
import { queryRows } from "../db/client";
import { intArray } from "../db/sql-fragments";
import { isoOrNull } from "../lib/time";
import { allows } from "../routers/users/privacy";
import type { PrivacyLevel } from "../db/schema";
import { Coalescer } from "./coalesce";

const KEY_ONLINE = presenceKeys.online;
const KEY_ANNOUNCED = presenceKeys.announced;
const KEY_SWEEP = "presence:sweep";

/** How long one sweep's lock holds: less than the period, so the next tick finds it gone. */
export const sweepLockSeconds = (periodSeconds: number): number => Math.max(0.25, periodSeconds - 0.5);
const userKey = presenceKeys.user;
/** Lease refreshes per broker round trip during a heartbeat. */
const REFRESH_BATCH = 1000;
/** Presence steps (connects, closes, checks) per broker round trip. */
const STEP_BATCH = 500;
/** A gated check is tried again after this long (the gate lasts a second). */
const GATED_RETRY_MS = 250;

/** Every user with an open realtime connection on any instance (one broker read of them all). */
export async function allOnlineUserIds(app: App): Promise<number[]> {
  return (await app.broker.leaseMembers(KEY_ONLINE)).map(Number).filter((id) => Number.isSafeInteger(id));
}

/** How many users have an open realtime connection (one broker read that does not list them). */
export function onlineUserCount(app: App): Promise<number> {
  return app.broker.leaseCount(KEY_ONLINE);
}

/** Which of `userIds` have an open realtime connection on any instance (one broker round trip). */
export async function onlineUserIds(app: App, userIds: number[]): Promise<Set<number>> {
  const ids = [...new Set(userIds)];
  if (ids.length === 0) return new Set();
  const held = await app.broker.leasesHeld(KEY_ONLINE, ids.map(String));
  return new Set(ids.filter((_, i) => held[i]));
}

export interface PresenceFrameData {
  user_id: number;
  is_online: boolean;
  last_seen_at: string | null;
  [key: string]: unknown;
}

/** Delivers ephemeral `presence` frames, each to its audience's sockets on every instance. */
export type PresenceDeliver = (announcements: { audience: number[]; data: PresenceFrameData }[]) => void;

/**
 * Connects, closes and announcements of many users share round trips: each goes through one
 * broker script call per batch (`presenceSteps`: the lease and the state check together), and the
 * announcements of a batch share one audience query and one delivery.
 */
export class PresenceTracker {
  /**
   * Users whose check waits for the gate (a retry timer runs): their connects and closes leave the
   * check to it. `crashed` marks a sweep's finding. A check leaves this map when it is sent, so a
   * change made while it is in flight checks again on its own.
   */
  private pending = new Map<number, { crashed: boolean }>();
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private stopped = false;
  private readonly steps: Coalescer<PresenceStep, PresenceOutcome>;
  private readonly lastSeen: Coalescer<number, void>;

  constructor(
    private readonly app: App,
    private readonly deliver: PresenceDeliver,
  ) {
    this.steps = new Coalescer((batch) => app.broker.presenceSteps(batch, this.leaseSeconds), STEP_BATCH);
    this.lastSeen = new Coalescer<number, void>(async (ids) => {
      await queryRows(app.db, sql`update users set last_seen_at = now() where id = any(${intArray([...new Set(ids)])}::int[])`);
      return ids.map(() => undefined);
    });
  }

  get leaseSeconds(): number {
    return this.app.config.PRESENCE_LEASE_SECONDS;
  }

  /** Resolves once the connection's lease is held (the announcement follows on its own). */
  async connected(userId: number, member: string): Promise<void> {
    const check = !this.pending.has(userId);
    const outcome = await this.steps.run({ userId, add: member, check });
    void this.settle([{ userId, outcome, crashed: false }]);
  }

  /** `lastLocal`: no other connection of this user remains on this instance. */
  async disconnected(userId: number, member: string, lastLocal: boolean): Promise<void> {
    // last_seen_at is written before the lease goes: a reader who sees the user offline must also
    // see when they were last online (written needlessly, and later rewritten, if another instance
    // still holds a connection).
    if (lastLocal) {
      await this.lastSeen.run(userId).catch((err: unknown) => this.app.log.warn("last_seen_at not written", { user_id: userId, error: String(err) }));
    }
    const check = lastLocal && !this.pending.has(userId);
    const outcome = await this.steps.run({ userId, remove: member, lastLocal, check });
    await this.settle([{ userId, outcome, crashed: false }]);
  }

  /** Heartbeat: refreshes the leases of this instance's open connections (one call per batch). */
  async refresh(conns: Iterable<{ userId: number; member: string }>): Promise<void> {
    const entries: [string, string][] = [];
    const users = new Set<number>();
    for (const c of conns) {
      entries.push([userKey(c.userId), c.member]);
      users.add(c.userId);
    }
    for (const u of users) entries.push([KEY_ONLINE, String(u)]);
    for (let i = 0; i < entries.length; i += REFRESH_BATCH) await this.app.broker.leaseAddMany(entries.slice(i, i + REFRESH_BATCH), this.leaseSeconds);
  }

  /**
   * Finds users announced online whose every lease expired (a crashed instance) and announces them.
   * Called every `periodSeconds` on each instance; the lock lets one of them sweep per period. It
   * lapses half a second before the period ends: held for the full period, it was still there when
   * the same instance's next tick came (the lock is set a little after its tick, behind the lease
   * refresh on the same connection), so sweeps ran every second period and a crashed instance's
   * users went offline up to a period late (47 s instead of at most 30 + 10 with the default lease).
   */
  async sweep(periodSeconds: number): Promise<void> {
    if (!(await this.app.broker.setIfAbsent(KEY_SWEEP, this.app.instanceId, sweepLockSeconds(periodSeconds)))) return;
    const announced = await this.app.broker.leaseMembers(KEY_ANNOUNCED);
    if (announced.length === 0) return;
    const online = new Set(await this.app.broker.leaseMembers(KEY_ONLINE));
    for (const member of announced) {
      if (online.has(member)) continue;
      const userId = Number(member);
      if (Number.isSafeInteger(userId)) this.schedule(userId, true);
    }
  }

  /** Checks the user's state soon and announces a change: at most once per second per user, across instances. */
  schedule(userId: number, crashed: boolean): void {
    if (this.stopped) return;
    const entry = this.pending.get(userId);
    if (entry) entry.crashed ||= crashed;
    else void this.check(userId, crashed);
  }

  private later(fn: () => void, ms: number) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private async check(userId: number, crashed: boolean): Promise<void> {
    if (this.stopped) return;
    const wasCrashed = crashed || (this.pending.get(userId)?.crashed ?? false);
    this.pending.delete(userId);
    try {
      const outcome = await this.steps.run({ userId, check: true });
      await this.settle([{ userId, outcome, crashed: wasCrashed }]);
    } catch (err) {
      if (!this.stopped) this.app.log.warn("presence check failed", { user_id: userId, error: String(err) });
    }
  }

  /** Acts on outcomes: a gated check is tried again later; changes are announced (batched). */
  private async settle(results: { userId: number; outcome: PresenceOutcome; crashed: boolean }[]): Promise<void> {
    for (const r of results) {
      if (r.outcome !== "gated" || this.stopped) continue;
      const entry = this.pending.get(r.userId);
      if (entry) {
        entry.crashed ||= r.crashed;
        continue;
      }
      this.pending.set(r.userId, { crashed: r.crashed });
      this.later(() => void this.check(r.userId, false), GATED_RETRY_MS);
    }
    const changes = results.filter((r) => r.outcome === "on" || r.outcome === "off");
    if (changes.length === 0 || this.stopped) return;
    try {
      await Promise.all(changes.map((c) => this.announcements.run({ userId: c.userId, online: c.outcome === "on", crashed: c.crashed })));
    } catch (err) {
      if (!this.stopped) this.app.log.warn("presence announcement failed", { error: String(err) });
    }
  }

  /** Announcements of many users: their audiences in one query, delivered together. */
  private readonly announcements = new Coalescer<Change, void>(async (changes) => {
    const crashedOff = changes.filter((c) => c.crashed && !c.online).map((c) => c.userId);
    // A crashed instance's user: nobody closed their socket, so last_seen_at is written here.
    await Promise.all(crashedOff.map((id) => this.lastSeen.run(id)));
    const who = await presenceAudiencesOf(this.app, changes.map((c) => c.userId));
    const out: { audience: number[]; data: PresenceFrameData }[] = [];
    for (const c of changes) {
      const w = who.get(c.userId);
      if (!w || w.audience.length === 0) continue;
      out.push({ audience: w.audience, data: { user_id: c.userId, is_online: c.online, last_seen_at: c.online ? null : isoOrNull(w.lastSeenAt) } });
    }
    if (out.length > 0 && !this.stopped) this.deliver(out);
    return changes.map(() => undefined);
  });

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

interface Change {
  userId: number;
  online: boolean;
  crashed: boolean;
}

interface AudienceRow {
  uid: number;
  privacy: PrivacyLevel;
  last_seen_at: Date | string | null;
  user_id: number | null;
  listed: boolean | null;
  blocked: boolean | null;
}

/**
 * The users' privacy, `last_seen_at` and private-chat counterparts in one query (announcements
 * of a batch share it): one row per (user, counterpart), or one row with a null `user_id` for a
 * user with none; no row for a user who does not exist.
 */
function audienceRows(app: App, userIds: number[]): Promise<AudienceRow[]> {
  return queryRows<AudienceRow>(
    app.db,
    sql`select u.id as uid, u.privacy_last_seen as privacy, u.last_seen_at, a.user_id, a.listed, a.blocked
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
        where u.id = any(${intArray(userIds)}::int[])`,
  );
}

const allowedAudience = (rows: AudienceRow[], privacy: PrivacyLevel): number[] =>
  rows.filter((r) => r.user_id !== null && !r.blocked && allows(privacy, false, Boolean(r.listed))).map((r) => Number(r.user_id));

/** Each user's `last_seen_at` and who may hear their presence now; users who are gone are missing. */
export async function presenceAudiencesOf(app: App, userIds: number[]): Promise<Map<number, { lastSeenAt: Date | null; audience: number[] }>> {
  const byUser = new Map<number, AudienceRow[]>();
  for (const r of await audienceRows(app, [...new Set(userIds)])) {
    const uid = Number(r.uid);
    const rows = byUser.get(uid);
    if (rows) rows.push(r);
    else byUser.set(uid, [r]);
  }
  const out = new Map<number, { lastSeenAt: Date | null; audience: number[] }>();
  for (const [uid, rows] of byUser) {
    const first = rows[0];
    if (first) out.set(uid, { lastSeenAt: first.last_seen_at === null ? null : new Date(first.last_seen_at), audience: allowedAudience(rows, first.privacy) });
  }
  return out;
}

/** Who may hear `userId`'s presence under `privacy`: private-chat counterparts it allows, not blocked. */
export async function presenceAudience(app: App, userId: number, privacy: PrivacyLevel): Promise<number[]> {
  if (privacy === "nobody") return [];
  return allowedAudience(await audienceRows(app, [userId]), privacy);
}
