/**
 * What Parley needs from Redis, as one small interface: fixed-window counters (rate limits),
 * key/value with expiry, presence leases (sorted sets scored by expiry) and pub/sub.
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
  publish(channel: string, message: string): Promise<void>;
  /** Calls `handler` for each message on `channel`; resolves to an unsubscribe function. */
  subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>>;
  ping(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

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
