/**
 * RFC 6238 TOTP (SHA-1, 30 s steps, 6 digits, ±1 step of clock drift) with @oslojs/otp.
 *
 * `verifyTOTPWithGracePeriod` only answers yes/no, so each candidate step is checked here and the
 * matching step returned: a code is accepted at most once because `twofa_last_step` only moves
 * forward, through one conditional UPDATE that also holds across instances.
 */
import { and, eq, isNull, lt, or } from "drizzle-orm";
import { timingSafeEqual } from "node:crypto";
import { encodeBase32UpperCaseNoPadding } from "@oslojs/encoding";
import { createTOTPKeyURI, generateHOTP } from "@oslojs/otp";
import type { App } from "../app";
import { users } from "../db/schema";
import { open, seal } from "./secret-box";

export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
const DRIFT_STEPS = 1;
const SEAL_PURPOSE = "totp-secret";
const ISSUER = "Parley";

export interface NewTotpSecret {
  key: Uint8Array;
  base32: string;
  otpauthUrl: string;
}

export function newTotpSecret(accountName: string): NewTotpSecret {
  const key = crypto.getRandomValues(new Uint8Array(20));
  return {
    key,
    base32: encodeBase32UpperCaseNoPadding(key),
    otpauthUrl: createTOTPKeyURI(ISSUER, accountName, key, TOTP_PERIOD_SECONDS, TOTP_DIGITS),
  };
}

export const sealTotpKey = (app: App, key: Uint8Array): string => seal(key, app.jwtSecret, SEAL_PURPOSE);
export const openTotpKey = (app: App, sealed: string): Uint8Array | null => open(sealed, app.jwtSecret, SEAL_PURPOSE);

export const currentStep = (nowMs = Date.now()): number => Math.floor(nowMs / 1000 / TOTP_PERIOD_SECONDS);

/** The time step whose code equals `code` (within the drift window), or null. */
export function matchingStep(key: Uint8Array, code: string, nowMs = Date.now()): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const given = Buffer.from(code);
  const now = currentStep(nowMs);
  let matched: number | null = null;
  // Every candidate is compared, so the time taken does not depend on which one matched.
  for (let step = now - DRIFT_STEPS; step <= now + DRIFT_STEPS; step++) {
    const expected = Buffer.from(generateHOTP(key, BigInt(step), TOTP_DIGITS));
    if (timingSafeEqual(expected, given)) matched = step;
  }
  return matched;
}

/** Records `step` as used; false when it (or a later one) was used already. */
export async function consumeTotpStep(app: App, userId: number, step: number): Promise<boolean> {
  const rows = await app.db
    .update(users)
    .set({ twofaLastStep: step })
    .where(and(eq(users.id, userId), or(isNull(users.twofaLastStep), lt(users.twofaLastStep, step))))
    .returning({ id: users.id });
  return rows.length > 0;
}

/** True when `code` is valid for the user's stored key now and had not been used before. */
export async function acceptTotpCode(app: App, user: { id: number; twofaSecret: string | null }, code: string | null | undefined): Promise<boolean> {
  if (!code || !user.twofaSecret) return false;
  const key = openTotpKey(app, user.twofaSecret);
  if (!key) return false;
  const step = matchingStep(key, code.trim());
  if (step === null) return false;
  return consumeTotpStep(app, user.id, step);
}
