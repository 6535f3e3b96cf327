/**
 * TOTP second factor (CONTRACT §3): setup stores a fresh secret (sealed, see auth/secret-box.ts)
 * without turning it on; enable proves the authenticator has it; disable needs a current code.
 * The secret is returned only by setup, never after.
 */
import { eq } from "drizzle-orm";
import type { App } from "../../app";
import { assertLoginNotLocked, recordFailedLogin } from "../../auth/login-guard";
import { acceptTotpCode, newTotpSecret, sealTotpKey } from "../../auth/totp";
import { users } from "../../db/schema";
import { AppError, conflict, notFound } from "../../errors";
import type { TTwoFactorSetupResponse } from "./schemas";

async function loadUser(app: App, userId: number) {
  const rows = await app.db.select().from(users).where(eq(users.id, userId)).limit(1);
  const user = rows[0];
  if (!user) throw notFound("User not found");
  return user;
}

type User = typeof users.$inferSelect;

const wrongCode = () => new AppError("BAD_REQUEST", "Invalid or already used two-factor code");

export async function setupTwoFactor(app: App, userId: number): Promise<TTwoFactorSetupResponse> {
  const user = await loadUser(app, userId);
  if (user.twofaEnabled) throw conflict("Two-factor authentication is already enabled");
  const secret = newTotpSecret(user.email);
  await app.db
    .update(users)
    .set({ twofaSecret: sealTotpKey(app, secret.key), twofaLastStep: null, updatedAt: new Date() })
    .where(eq(users.id, userId));
  return { secret: secret.base32, otpauth_url: secret.otpauthUrl };
}

/** A code checked against the account's failed-login limit: 429 while locked, a wrong one counts. */
async function requireCode(app: App, user: User, code: string): Promise<void> {
  await assertLoginNotLocked(app, user.email);
  if (await acceptTotpCode(app, user, code)) return;
  await recordFailedLogin(app, user.email);
  throw wrongCode();
}

export async function enableTwoFactor(app: App, userId: number, code: string): Promise<void> {
  const user = await loadUser(app, userId);
  if (user.twofaEnabled) throw conflict("Two-factor authentication is already enabled");
  if (!user.twofaSecret) throw new AppError("BAD_REQUEST", "Call 2fa/setup first");
  await requireCode(app, user, code);
  await app.db.update(users).set({ twofaEnabled: true, updatedAt: new Date() }).where(eq(users.id, userId));
}

export async function disableTwoFactor(app: App, userId: number, code: string): Promise<void> {
  const user = await loadUser(app, userId);
  if (!user.twofaEnabled) throw new AppError("BAD_REQUEST", "Two-factor authentication is not enabled");
  await requireCode(app, user, code);
  await app.db
    .update(users)
    .set({ twofaEnabled: false, twofaSecret: null, updatedAt: new Date() })
    .where(eq(users.id, userId));
}
