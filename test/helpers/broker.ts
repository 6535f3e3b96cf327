/**
 * A broker of its own for a test file: Redis when REDIS_URL is set (the PostgreSQL + Redis pass),
 * else the in-process one, under a unique key prefix; opened before the file's tests, closed after,
 * with its Redis keys deleted.
 */
import { afterAll, beforeAll } from "bun:test";
import { openBroker, type Broker } from "../../src/broker/broker";
import { BASE_REDIS_URL } from "./server";

/** Answers a getter for the broker (it exists once the file's beforeAll has run). */
export function scratchBroker(name: string): () => Broker {
  const prefix = `test-${name}:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}:`;
  let broker: Broker | undefined;
  beforeAll(async () => {
    broker = await openBroker({ redisUrl: BASE_REDIS_URL, prefix });
  });
  afterAll(async () => {
    await broker?.close();
    if (!BASE_REDIS_URL) return;
    const { Redis } = await import("ioredis");
    const redis = new Redis(BASE_REDIS_URL);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });
  return () => {
    if (!broker) throw new Error("the scratch broker is not open yet");
    return broker;
  };
}
