/**
 * The flows that run through a mailed link: verify-email, resend-verification,
 * request-password-reset and reset-password (CONTRACT §3).
 *
 * resend and request-reset answer the same thing, equally fast, whether or not the address has an
 * account: the lookup, token and mail happen after the response (inBackground).
 */
import { eq } from "drizzle-orm";
import type { App } from "../../app";
import { consumeEmailToken, issueEmailToken, peekEmailToken, retireEmailTokens } from "../../auth/email-tokens";
import { clearFailedLogins } from "../../auth/login-guard";
import { hashPassword } from "../../auth/passwords";
import { announceRevoked, deleteSessions } from "../../auth/revocation";
import { users } from "../../db/schema";
import { AppError } from "../../errors";
import { inBackground, passwordResetMail, verificationMail } from "../../mail/auth-mails";
import { findUserByEmail } from "./service";

const badToken = () => new AppError("BAD_REQUEST", "Invalid or expired token");

export async function verifyEmail(app: App, token: string): Promise<void> {
  const userId = await consumeEmailToken(app.db, "verify_email", token);
  if (userId === null) throw badToken();
  await app.db.update(users).set({ emailVerified: true, updatedAt: new Date() }).where(eq(users.id, userId));
}

export function resendVerification(app: App, email: string): void {
  inBackground(app, "verification mail", async () => {
    const user = await findUserByEmail(app, email);
    if (!user || user.emailVerified) return;
    const token = await issueEmailToken(app, user.id, "verify_email");
    await app.mailer.send(verificationMail(app, user.email, user.name, token));
  });
}

export function requestPasswordReset(app: App, email: string): void {
  inBackground(app, "password reset mail", async () => {
    const user = await findUserByEmail(app, email);
    if (!user) return;
    const token = await issueEmailToken(app, user.id, "reset_password");
    await app.mailer.send(passwordResetMail(app, user.email, user.name, token));
  });
}

/**
 * Sets the new password and ends every session of the account, in one transaction with using up
 * the token. Following the link proves the mailbox, so the email counts as verified too.
 */
export async function resetPassword(app: App, token: string, newPassword: string): Promise<void> {
  // Hashing is the expensive part: only do it for a token that is usable right now.
  if ((await peekEmailToken(app.db, "reset_password", token)) === null) throw badToken();
  const passwordHash = await hashPassword(newPassword);
  const revoked = await app.db.transaction(async (tx) => {
    const userId = await consumeEmailToken(tx, "reset_password", token);
    if (userId === null) return null;
    const [user] = await tx
      .update(users)
      .set({ passwordHash, emailVerified: true, updatedAt: new Date() })
      .where(eq(users.id, userId))
      .returning({ email: users.email });
    await retireEmailTokens(tx, userId, "reset_password");
    return { email: user?.email, sessions: await deleteSessions(tx, userId, "all") };
  });
  if (!revoked) throw badToken();
  if (revoked.email !== undefined) await clearFailedLogins(app, revoked.email);
  await announceRevoked(app, revoked.sessions);
}
