/**
 * What Parley needs from Redis, as one small interface: fixed-window counters (rate limits),
 * key/value with expiry, presence leases (sorted sets scored by expiry), presence steps (many
 * users' lease and state changes in one round trip) and pub/sub.
 *
 * `redis-broker.ts` implements it over ioredis (shared across instances); `memory-broker.ts`
 * in-process for `bun run dev`. Pub/sub is fire-and-forget in both: delivery guarantees come from
 * the durable event log, never from here.
 */
export interface Broker {
  readonly kind: "redis" | "memory";
  /** Counts one hit in the current window of `key`; answers the count and seconds until it resets. */
  hit(key: string, windowSeconds: number): Promise<{ count: number; resetSeconds: number }>;
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds?: number): Promise<void>;
  /** Sets only when absent; true when this call set it. */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  del(key: string): Promise<void>;
  /** Adds or refreshes `member` in the lease set `key`, valid for `ttlSeconds`. */
  leaseAdd(key: string, member: string, ttlSeconds: number): Promise<void>;
  /** `leaseAdd` for many (key, member) pairs at once: one round trip (a heartbeat refreshes thousands). */
  leaseAddMany(entries: readonly (readonly [key: string, member: string])[], ttlSeconds: number): Promise<void>;
  leaseRemove(key: string, member: string): Promise<void>;
  /** Members whose lease has not expired. */
  leaseMembers(key: string): Promise<string[]>;
  /** How many members of `key` hold a live lease, without reading them (cheap whatever the count). */
  leaseCount(key: string): Promise<number>;
  /** For each of `members`, in order, whether it holds a live lease in `key`: one round trip. */
  leasesHeld(key: string, members: readonly string[]): Promise<boolean[]>;
  /**
   * Presence steps of many users in one round trip, each atomic (rules on `PresenceStep`); answers
   * one outcome per step, in order. Keys are those of `presenceKeys`.
   */
  presenceSteps(steps: readonly PresenceStep[], leaseSeconds: number): Promise<PresenceOutcome[]>;
  publish(channel: string, message: string): Promise<void>;
  /** Calls `handler` for each message on `channel`; resolves to an unsubscribe function. */
  subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>>;
  ping(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

/** The presence keys (presence.ts reads them too): lease sets, the state last announced, the gate. */
export const presenceKeys = {
  online: "presence:online",
  announced: "presence:announced",
  user: (userId: number) => `presence:u:${userId}`,
  state: (userId: number) => `presence:state:${userId}`,
  gate: (userId: number) => `presence:gate:${userId}`,
};
/** How long the state last announced (and the `announced` lease) is kept. */
export const PRESENCE_ANNOUNCED_SECONDS = 7 * 24 * 3600;
/** At most one announcement per user per this many seconds, across instances. */
export const PRESENCE_GATE_SECONDS = 1;

/**
 * One user's presence step, in this order:
 * 1. `add`: add (or refresh) lease `add` in `user(id)` and the user in `online`;
 *    `remove`: remove lease `remove` from `user(id)`; then, when `lastLocal`, drop the user from
 *    `online` if no live lease is left (else the outcome is "skip": nothing changed).
 * 2. `check`: when the gate key can be taken (else "gated"), compare the user's state (any live
 *    lease) with the state last announced: "same", or record the new one (and the `announced`
 *    lease set) and answer "on" / "off". Without `check` the outcome is "skip".
 */
export interface PresenceStep {
  userId: number;
  add?: string;
  remove?: string;
  lastLocal?: boolean;
  check: boolean;
}
export type PresenceOutcome = "on" | "off" | "same" | "gated" | "skip";

export interface BrokerOptions {
  redisUrl?: string;
  /** Prefix of every key and channel, so test runs sharing one Redis never meet. */
  prefix?: string;
}

export async function openBroker(opts: BrokerOptions): Promise<Broker> {
  const prefix = opts.prefix ?? "parley:";
  if (opts.redisUrl) {
    const { RedisBroker } = await import("./redis-broker");
    return RedisBroker.connect(opts.redisUrl, prefix);
  }
  const { MemoryBroker } = await import("./memory-broker");
  return new MemoryBroker();
}
