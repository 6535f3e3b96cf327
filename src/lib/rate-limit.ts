/**
 * Fixed-window rate limits through the broker, so they hold across instances (CONTRACT §2).
 * A limit of 0 turns the check off.
 */
import type { App } from "../app";
import { rateLimited } from "../errors";

export async function enforceRateLimit(
  app: App,
  bucket: string,
  subject: string,
  limit: number,
  windowSeconds = 60,
): Promise<void> {
  if (limit <= 0) return;
  const { count, resetSeconds } = await app.broker.hit(`rl:${bucket}:${subject}`, windowSeconds);
  if (count > limit) throw rateLimited(resetSeconds);
}
