/**
 * Per-account limit on failed logins (FAILED_LOGIN_LIMIT_PER_HOUR, 0 = off), next to the per-IP
 * limit: it stops slow password guessing from many addresses. Counted per email whether or not an
 * account exists, so the limit itself reveals nothing. Keys carry a hash, never the address.
 * Wrong codes on 2FA enable/disable count too: a stolen session must not guess its way to turning
 * the second factor off.
 */
import type { App } from "../app";
import { rateLimited } from "../errors";
import { sha256Hex } from "../lib/random";

const WINDOW_SECONDS = 3600;

const keysFor = (email: string) => {
  const id = sha256Hex(email);
  return { count: `login-fail:${id}`, lock: `login-lock:${id}` };
};

/** Throws 429 while the account is locked out. */
export async function assertLoginNotLocked(app: App, email: string): Promise<void> {
  if (app.config.FAILED_LOGIN_LIMIT_PER_HOUR <= 0) return;
  const until = Number(await app.broker.get(keysFor(email).lock));
  const remaining = Math.ceil(until - Date.now() / 1000);
  if (remaining > 0) throw rateLimited(remaining);
}

/** Counts one failure; the one reaching the limit locks the account for the rest of the window. */
export async function recordFailedLogin(app: App, email: string): Promise<void> {
  const limit = app.config.FAILED_LOGIN_LIMIT_PER_HOUR;
  if (limit <= 0) return;
  const keys = keysFor(email);
  const { count, resetSeconds } = await app.broker.hit(keys.count, WINDOW_SECONDS);
  if (count >= limit) await app.broker.set(keys.lock, String(Math.floor(Date.now() / 1000) + resetSeconds), resetSeconds);
}

/**
 * Forgets the account's failures and lifts its lock: a password reset proves the mailbox, and the
 * owner should not stay locked out by someone else's guessing (or by their own) after it.
 */
export async function clearFailedLogins(app: App, email: string): Promise<void> {
  const keys = keysFor(email);
  await Promise.all([app.broker.del(keys.count), app.broker.del(keys.lock)]);
}
