import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { PRESENCE_ANNOUNCED_SECONDS, PRESENCE_GATE_SECONDS, type Broker, type PresenceOutcome, type PresenceStep } from "./broker";

/** `leaseAddMany` as one command: KEYS are the lease sets, ARGV[1] the expiry, ARGV[i+1] the member of KEYS[i]. */
const LEASE_ADD_MANY = `
for i = 1, #KEYS do redis.call('ZADD', KEYS[i], ARGV[1], ARGV[i + 1]) end
return #KEYS`;

/**
 * `presenceSteps` (rules on PresenceStep in broker.ts). ARGV: prefix, now, lease expiry, announced
 * expiry, announced ttl, gate ttl, then five per step: user id, add, remove, lastLocal, check.
 */
const PRESENCE_STEPS = `
local p, now, leaseExp, annExp, annTtl, gateTtl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local online, announced = p .. 'presence:online', p .. 'presence:announced'
local out = {}
for i = 7, #ARGV, 5 do
  local uid, add, rem, lastLocal, check = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local u = p .. 'presence:u:' .. uid
  local res = nil
  if add ~= '' then
    redis.call('ZADD', u, leaseExp, add)
    redis.call('ZADD', online, leaseExp, uid)
  elseif rem ~= '' then
    redis.call('ZREM', u, rem)
    if lastLocal ~= '1' then
      res = 'skip'
    else
      redis.call('ZREMRANGEBYSCORE', u, '-inf', now)
      if redis.call('ZCARD', u) > 0 then res = 'skip' else redis.call('ZREM', online, uid) end
    end
  end
  if res == nil and check ~= '1' then res = 'skip' end
  if res == nil then
    if not redis.call('SET', p .. 'presence:gate:' .. uid, '1', 'EX', gateTtl, 'NX') then
      res = 'gated'
    else
      redis.call('ZREMRANGEBYSCORE', u, '-inf', now)
      local on = redis.call('ZCARD', u) > 0
      local st = on and '1' or '0'
      local sk = p .. 'presence:state:' .. uid
      local prev = redis.call('GET', sk)
      if prev == st or (not prev and not on) then
        if not on then redis.call('ZREM', announced, uid) end
        res = 'same'
      else
        redis.call('SET', sk, st, 'EX', annTtl)
        if on then redis.call('ZADD', announced, annExp, uid) else redis.call('ZREM', announced, uid) end
        res = on and 'on' or 'off'
      end
    end
  end
  out[#out + 1] = res
end
return out`;

/** Members per ZMSCORE command in `leasesHeld` (commands of one call are sent together). */
const LEASES_HELD_CHUNK = 5000;

const sha1 = (text: string) => createHash("sha1").update(text).digest("hex");
const SCRIPTS = { leaseAddMany: { lua: LEASE_ADD_MANY, sha: sha1(LEASE_ADD_MANY) }, presenceSteps: { lua: PRESENCE_STEPS, sha: sha1(PRESENCE_STEPS) } };

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
    // PX: a lock may hold for a fraction of a second (the presence sweep's).
    return (await this.redis.set(this.k(key), value, "PX", Math.max(1, Math.round(ttlSeconds * 1000)), "NX")) === "OK";
  }

  async del(key: string) {
    await this.redis.del(this.k(key));
  }

  async leaseAdd(key: string, member: string, ttlSeconds: number) {
    await this.redis.zadd(this.k(key), Date.now() + ttlSeconds * 1000, member);
  }

  /** Runs a script by its hash, loading it on the first NOSCRIPT (one command instead of many). */
  private async script(name: keyof typeof SCRIPTS, keys: string[], args: (string | number)[]): Promise<unknown> {
    const { lua, sha } = SCRIPTS[name];
    try {
      return await this.redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!String(err).includes("NOSCRIPT")) throw err;
      return this.redis.eval(lua, keys.length, ...keys, ...args);
    }
  }

  async leaseAddMany(entries: readonly (readonly [string, string])[], ttlSeconds: number) {
    if (entries.length === 0) return;
    const keys = entries.map(([key]) => this.k(key));
    await this.script("leaseAddMany", keys, [Date.now() + ttlSeconds * 1000, ...entries.map(([, member]) => member)]);
  }

  async presenceSteps(steps: readonly PresenceStep[], leaseSeconds: number): Promise<PresenceOutcome[]> {
    if (steps.length === 0) return [];
    const now = Date.now();
    const args: (string | number)[] = [this.prefix, now, now + leaseSeconds * 1000, now + PRESENCE_ANNOUNCED_SECONDS * 1000, PRESENCE_ANNOUNCED_SECONDS, PRESENCE_GATE_SECONDS];
    for (const s of steps) args.push(s.userId, s.add ?? "", s.remove ?? "", s.lastLocal ? "1" : "0", s.check ? "1" : "0");
    return (await this.script("presenceSteps", [], args)) as PresenceOutcome[];
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

  async leaseCount(key: string) {
    // Only `leaseMembers` prunes expired members, so the count goes by expiry: after now
    // (exclusive, as in the memory broker).
    return this.redis.zcount(this.k(key), `(${Date.now()}`, "+inf");
  }

  async leasesHeld(key: string, members: readonly string[]) {
    if (members.length === 0) return [];
    const now = Date.now();
    const k = this.k(key);
    const chunks: string[][] = [];
    for (let i = 0; i < members.length; i += LEASES_HELD_CHUNK) chunks.push(members.slice(i, i + LEASES_HELD_CHUNK));
    const scores = (await Promise.all(chunks.map((c) => this.redis.zmscore(k, ...c)))).flat();
    return scores.map((score) => score !== null && Number(score) > now);
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
