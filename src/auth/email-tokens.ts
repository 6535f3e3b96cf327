/**
 * Single-use tokens sent by mail (CONTRACT §3): 256 random bits, only the SHA-256 stored, expiring.
 * Consuming is one `UPDATE ... WHERE used_at IS NULL ... RETURNING`, so of many concurrent uses of
 * one token exactly one succeeds.
 */
import { and, eq, gt, isNull } from "drizzle-orm";
import type { App } from "../app";
import type { DbOrTx } from "../db/client";
import { emailTokens, type EmailTokenPurpose } from "../db/schema";
import { randomToken, sha256Hex } from "../lib/random";

export const EMAIL_TOKEN_TTL_SECONDS: Record<EmailTokenPurpose, number> = {
  verify_email: 24 * 3600,
  reset_password: 3600,
};

/** Stores a new token for the user; answers the plaintext, which only the mail ever carries. */
export async function issueEmailToken(app: App, userId: number, purpose: EmailTokenPurpose): Promise<string> {
  const token = randomToken(256);
  await app.db.insert(emailTokens).values({
    userId,
    purpose,
    tokenHash: sha256Hex(token),
    expiresAt: new Date(Date.now() + EMAIL_TOKEN_TTL_SECONDS[purpose] * 1000),
  });
  return token;
}

const usable = (purpose: EmailTokenPurpose, token: string) =>
  and(
    eq(emailTokens.tokenHash, sha256Hex(token)),
    eq(emailTokens.purpose, purpose),
    isNull(emailTokens.usedAt),
    gt(emailTokens.expiresAt, new Date()),
  );

/** The owner of a usable token, without using it up (to skip expensive work for bad tokens). */
export async function peekEmailToken(db: DbOrTx, purpose: EmailTokenPurpose, token: string): Promise<number | null> {
  const rows = await db.select({ userId: emailTokens.userId }).from(emailTokens).where(usable(purpose, token)).limit(1);
  return rows[0]?.userId ?? null;
}

/** Uses the token up; answers its owner, or null when it is unknown, used or expired. */
export async function consumeEmailToken(db: DbOrTx, purpose: EmailTokenPurpose, token: string): Promise<number | null> {
  const rows = await db
    .update(emailTokens)
    .set({ usedAt: new Date() })
    .where(usable(purpose, token))
    .returning({ userId: emailTokens.userId });
  return rows[0]?.userId ?? null;
}

/** Uses up every other open token of that purpose (after a password reset, older links die). */
export async function retireEmailTokens(db: DbOrTx, userId: number, purpose: EmailTokenPurpose): Promise<void> {
  await db
    .update(emailTokens)
    .set({ usedAt: new Date() })
    .where(and(eq(emailTokens.userId, userId), eq(emailTokens.purpose, purpose), isNull(emailTokens.usedAt)));
}
