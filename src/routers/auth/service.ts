/** Registration, login and the caller's account (CONTRACT §3). Takes `app`; no tRPC imports. */
import { eq, sql } from "drizzle-orm";
import type { z } from "zod";
import type { App } from "../../app";
import { issueEmailToken } from "../../auth/email-tokens";
import { assertLoginNotLocked, recordFailedLogin } from "../../auth/login-guard";
import { dummyPasswordHash, hashPassword, verifyPassword } from "../../auth/passwords";
import { createSessionTokens, type SessionMeta, type TokenPair } from "../../auth/tokens";
import { acceptTotpCode } from "../../auth/totp";
import { BatchedLookup } from "../../db/batched-lookup";
import { prepared } from "../../db/prepared";
import { intArrayText } from "../../db/sql-fragments";
import { users } from "../../db/schema";
import { AppError, conflict, forbidden, notFound, unauthorized } from "../../errors";
import { verificationMail } from "../../mail/auth-mails";
import { MailUnavailableError } from "../../mail/mailer";
import { isoFromDriver } from "../../lib/pg-timestamp";
import { MAX_ID } from "../../lib/zod";
import type { TAuthUserResponse, ZLoginRequest, ZRegisterRequest } from "./schemas";
import { isUniqueViolation } from "../../db/errors";

type User = typeof users.$inferSelect;

/**
 * The columns the caller's own account shows (never the password hash or the TOTP secret). The
 * timestamps come as the driver answers them and are rewritten to ISO text (lib/pg-timestamp.ts)
 * without a Date in between.
 */
const AUTH_USER_COLUMNS = {
  id: users.id,
  email: users.email,
  name: users.name,
  username: users.username,
  bio: users.bio,
  avatarUrl: users.avatarUrl,
  emailVerified: users.emailVerified,
  twofaEnabled: users.twofaEnabled,
  createdAt: sql<Date | string>`${users.createdAt}`,
  updatedAt: sql<Date | string>`${users.updatedAt}`,
};
type AuthUserRow = Omit<Pick<User, keyof typeof AUTH_USER_COLUMNS>, "createdAt" | "updatedAt"> & { createdAt: Date | string; updatedAt: Date | string };

export function toAuthUser(u: AuthUserRow): TAuthUserResponse {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    username: u.username,
    bio: u.bio,
    avatar_url: u.avatarUrl,
    email_verified: u.emailVerified,
    twofa_enabled: u.twofaEnabled,
    created_at: isoFromDriver(u.createdAt),
    updated_at: isoFromDriver(u.updatedAt),
  };
}

export async function findUserByEmail(app: App, email: string): Promise<User | undefined> {
  const rows = await app.db.select().from(users).where(eq(users.email, email)).limit(1);
  return rows[0];
}

/**
 * Creates the account and mails the verification link. When the mail server cannot be reached the
 * account stays created and the caller gets 503: a later resend-verification completes it.
 */
export async function register(app: App, input: z.output<typeof ZRegisterRequest>): Promise<void> {
  const user = await registerUser(app, input);
  const token = await issueEmailToken(app, user.id, "verify_email");
  try {
    await app.mailer.send(verificationMail(app, user.email, user.name, token));
  } catch (err) {
    if (!(err instanceof MailUnavailableError)) throw err;
    app.log.warn("verification mail not sent: mail server unavailable", { user_id: user.id });
    throw new AppError(
      "UNAVAILABLE",
      "Email service unavailable. Your account was created; request a new verification email later.",
    );
  }
}

/** Creates the account; answers the new user. Taken email or username: 409. */
export async function registerUser(app: App, input: z.output<typeof ZRegisterRequest>): Promise<User> {
  await refuseTaken(app, input);
  const passwordHash = await hashPassword(input.password);
  try {
    const [user] = await app.db
      .insert(users)
      .values({ email: input.email, name: input.name.trim(), username: input.username, passwordHash })
      .returning();
    if (!user) throw new Error("insert returned nothing");
    return user;
  } catch (err) {
    // A concurrent registration won the unique index while this one hashed: say which, as above.
    if (isUniqueViolation(err)) {
      await refuseTaken(app, input);
      throw conflict("Email or username already registered");
    }
    throw err;
  }
}

/** 409 naming what is taken: the email, else the username (case-insensitively). */
async function refuseTaken(app: App, input: { email: string; username: string }): Promise<void> {
  const taken = await app.db
    .select({ email: users.email, username: users.username })
    .from(users)
    .where(sql`${users.email} = ${input.email} or lower(${users.username}) = lower(${input.username})`)
    .limit(2);
  if (taken.some((t) => t.email === input.email)) throw conflict("Email already registered");
  if (taken.length) throw conflict("Username already taken");
}

/**
 * Password check with the same work for unknown emails as for wrong passwords, then the email
 * verification and the second factor. Every failure counts against the account's hourly limit.
 */
export async function checkCredentials(app: App, input: z.output<typeof ZLoginRequest>): Promise<User> {
  await assertLoginNotLocked(app, input.email);
  const user = await findUserByEmail(app, input.email);
  const ok = await verifyPassword(input.password, user?.passwordHash ?? (await dummyPasswordHash()));
  if (!user || !ok) {
    await recordFailedLogin(app, input.email);
    throw unauthorized("Incorrect email or password");
  }
  if (app.config.REQUIRE_EMAIL_VERIFICATION && !user.emailVerified) throw forbidden("Email not verified");
  if (user.twofaEnabled) {
    if (!input.otp_code) throw unauthorized("Two-factor code required");
    if (!(await acceptTotpCode(app, user, input.otp_code))) {
      await recordFailedLogin(app, input.email);
      throw unauthorized("Invalid or already used two-factor code");
    }
  }
  return user;
}

export async function login(app: App, input: z.output<typeof ZLoginRequest>, meta: SessionMeta): Promise<TokenPair> {
  const user = await checkCredentials(app, input);
  return createSessionTokens(app, user.id, meta);
}

/**
 * The caller's own row, looked up together with the other requests' of the same moment
 * (db/batched-lookup.ts): under load several `auth.me` calls arrive per turn of the event loop,
 * and one statement for all of them costs the server and PostgreSQL one round trip instead of one each.
 */
export const authUserLookup = (app: App): BatchedLookup<number, AuthUserRow> =>
  prepared(app.db, "auth_user_lookup", (db) => {
    const byIds = db
      .select(AUTH_USER_COLUMNS)
      .from(users)
      .where(sql`${users.id} = any(${sql.placeholder("ids")}::int[])`)
      .prepare("auth_users_by_ids");
    return new BatchedLookup<number, AuthUserRow>({ fetch: (ids) => byIds.execute({ ids: intArrayText(ids) }), keyOf: (u) => u.id });
  });

export async function getAuthUser(app: App, userId: number): Promise<TAuthUserResponse> {
  // An id outside PostgreSQL's integer range names no user, and must not fail the batch it would join.
  const user = Number.isSafeInteger(userId) && userId > 0 && userId <= MAX_ID ? await authUserLookup(app).load(userId) : undefined;
  if (!user) throw notFound("User not found");
  return toAuthUser(user);
}
