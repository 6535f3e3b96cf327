import { Redis } from "ioredis";
import type { Broker } from "./broker";

/**
 * Broker over ioredis. Commands fail at once while Redis is unreachable (no offline queue), so
 * requests answer 503 quickly instead of hanging. The subscriber is a separate connection (a
 * subscribing connection cannot run other commands) and ioredis re-subscribes after reconnects.
 */
export class RedisBroker implements Broker {
  readonly kind = "redis" as const;
  private handlers = new Map<string, Set<(message: string) => void>>();

  private constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly prefix: string,
  ) {
    subscriber.on("message", (channel: string, message: string) => {
      const set = this.handlers.get(channel);
      if (set) for (const handler of set) handler(message);
    });
  }

  static async connect(url: string, prefix: string): Promise<RedisBroker> {
    const options = {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      connectTimeout: 2000,
      lazyConnect: true,
      retryStrategy: (attempt: number) => Math.min(attempt * 100, 1000),
    };
    const redis = new Redis(url, options);
    // The subscriber keeps its offline queue so subscriptions made while reconnecting are kept.
    const subscriber = new Redis(url, { ...options, enableOfflineQueue: true, maxRetriesPerRequest: null });
    redis.on("error", () => {});
    subscriber.on("error", () => {});
    await redis.connect().catch(() => {});
    await subscriber.connect().catch(() => {});
    return new RedisBroker(redis, subscriber, prefix);
  }

  private k(key: string) {
    return this.prefix + key;
  }

  async hit(key: string, windowSeconds: number) {
    const k = this.k(key);
    const [[, count], [, ttl]] = (await this.redis
      .multi()
      .incr(k)
      .ttl(k)
      .exec()) as [[Error | null, number], [Error | null, number]];
    let resetSeconds = ttl;
    if (ttl < 0) {
      await this.redis.expire(k, windowSeconds);
      resetSeconds = windowSeconds;
    }
    return { count, resetSeconds: Math.max(1, resetSeconds) };
  }

  async get(key: string) {
    return this.redis.get(this.k(key));
  }

  async set(key: string, value: string, ttlSeconds?: number) {
    if (ttlSeconds) await this.redis.set(this.k(key), value, "EX", ttlSeconds);
    else await this.redis.set(this.k(key), value);
  }

  async setIfAbsent(key: string, value: string, ttlSeconds: number) {
    return (await this.redis.set(this.k(key), value, "EX", ttlSeconds, "NX")) === "OK";
  }

  async del(key: string) {
    await this.redis.del(this.k(key));
  }

  async leaseAdd(key: string, member: string, ttlSeconds: number) {
    await this.redis.zadd(this.k(key), Date.now() + ttlSeconds * 1000, member);
  }

  async leaseAddMany(entries: readonly (readonly [string, string])[], ttlSeconds: number) {
    if (entries.length === 0) return;
    const expiry = Date.now() + ttlSeconds * 1000;
    const pipeline = this.redis.pipeline();
    for (const [key, member] of entries) pipeline.zadd(this.k(key), expiry, member);
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }

  async leaseRemove(key: string, member: string) {
    await this.redis.zrem(this.k(key), member);
  }

  async leaseMembers(key: string) {
    const k = this.k(key);
    const now = Date.now();
    const [, [, members]] = (await this.redis
      .multi()
      .zremrangebyscore(k, "-inf", now)
      .zrangebyscore(k, now, "+inf")
      .exec()) as [[Error | null, number], [Error | null, string[]]];
    return members;
  }

  async publish(channel: string, message: string) {
    await this.redis.publish(this.k(channel), message);
  }

  async subscribe(channel: string, handler: (message: string) => void) {
    const k = this.k(channel);
    let set = this.handlers.get(k);
    if (!set) {
      this.handlers.set(k, (set = new Set()));
      // Not awaited: while Redis is down the command waits in the subscriber's offline queue and
      // runs on reconnect, and start-up must not hang on it (ioredis re-subscribes after that).
      this.subscriber.subscribe(k).catch(() => {});
    }
    set.add(handler);
    return async () => {
      set.delete(handler);
      if (set.size === 0) {
        this.handlers.delete(k);
        // Not awaited either: while Redis is down it would wait for a reconnect that may never come.
        this.subscriber.unsubscribe(k).catch(() => {});
      }
    };
  }

  async ping(timeoutMs = 2000) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        this.redis.ping().then((r) => r === "PONG"),
        new Promise<boolean>((res) => {
          timer = setTimeout(() => res(false), timeoutMs);
        }),
      ]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async close() {
    this.redis.disconnect();
    this.subscriber.disconnect();
  }
}
