/**
 * Fixed-window rate limits through the broker, so they hold across instances (CONTRACT §2).
 * A limit of 0 turns the check off.
 *
 * While Redis is unreachable a limit fails closed (the broker's error, answered 503) unless the
 * caller passes `failOpen`: then the check is skipped with a warning. Sending messages fails open
 * (messaging keeps working through a Redis outage, the event log is in PostgreSQL); the auth limits
 * fail closed (docs/reliability.md "Faults").
 */
import type { App } from "../app";
import { rateLimited } from "../errors";
import { isUnavailableOrWraps } from "../trpc";

export async function enforceRateLimit(
  app: App,
  bucket: string,
  subject: string,
  limit: number,
  windowSeconds = 60,
  failOpen = false,
): Promise<void> {
  if (limit <= 0) return;
  let hit: { count: number; resetSeconds: number };
  try {
    hit = await app.broker.hit(`rl:${bucket}:${subject}`, windowSeconds);
  } catch (err) {
    if (failOpen && isUnavailableOrWraps(err)) {
      app.log.warn("rate limit skipped: broker unavailable", { bucket });
      return;
    }
    throw err;
  }
  if (hit.count > limit) throw rateLimited(hit.resetSeconds);
}
