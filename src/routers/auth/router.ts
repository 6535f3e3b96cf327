import type { Config } from "../../env";
import { enforceRateLimit } from "../../lib/rate-limit";
import { ZMessageResponse, ZNoInput } from "../../lib/zod";
import { authedProcedure, publicProcedure, router, type Meta } from "../../trpc";
import { z } from "zod";
import { rotateRefreshToken } from "../../auth/tokens";
import { requestPasswordReset, resendVerification, resetPassword, verifyEmail } from "./email-flows";
import {
  ZAuthUserResponse,
  ZEmailRequest,
  ZLoginRequest,
  ZRefreshRequest,
  ZRegisterRequest,
  ZResetPasswordRequest,
  ZSessionJti,
  ZSessionRead,
  ZTokenResponse,
  ZTwoFactorCodeRequest,
  ZTwoFactorSetupResponse,
  ZVerifyEmailRequest,
} from "./schemas";
import { getAuthUser, login, register } from "./service";
import { listSessions, revokeOtherSessions, revokeSession } from "./sessions-service";
import { disableTwoFactor, enableTwoFactor, setupTwoFactor } from "./twofa-service";

type LimitKey = "LOGIN_RATE_LIMIT_PER_MINUTE" | "REGISTER_RATE_LIMIT_PER_MINUTE" | "REFRESH_RATE_LIMIT_PER_MINUTE" | "RESET_RATE_LIMIT_PER_MINUTE";

/** Public auth procedures counted per client IP through the broker (CONTRACT §2, reference §12). */
const limitedByIp = (bucket: string, limit: LimitKey) =>
  publicProcedure.use(async ({ ctx, next }) => {
    const config: Config = ctx.app.config;
    await enforceRateLimit(ctx.app, bucket, ctx.clientIp(), config[limit]);
    return next();
  });

const auth = (method: "GET" | "POST" | "DELETE", path: `/${string}`, summary: string, isPublic = false, errorResponses?: Record<number, string>): Meta => ({
  openapi: { method, path: `/auth${path}`, tags: ["auth"], summary, ...(isPublic ? { protect: false } : {}), ...(errorResponses ? { errorResponses } : {}) },
});

const NOT_REVEALING = "If an account with that email needs it, an email is on its way.";

export const authRouter = router({
  register: limitedByIp("register", "REGISTER_RATE_LIMIT_PER_MINUTE")
    .meta({ ...auth("POST", "/register", "Create an account", true, { 409: "Email or username already taken" }), status: 201 })
    .input(ZRegisterRequest)
    .output(ZMessageResponse)
    .mutation(async ({ ctx, input }) => {
      await register(ctx.app, input);
      return { message: "Registered. Check your email to verify your account." };
    }),
  login: limitedByIp("login", "LOGIN_RATE_LIMIT_PER_MINUTE")
    .meta(auth("POST", "/login", "Log in", true, { 401: "Wrong email, password or two-factor code", 403: "Email not verified" }))
    .input(ZLoginRequest)
    .output(ZTokenResponse)
    .mutation(({ ctx, input }) => login(ctx.app, input, { userAgent: ctx.userAgent, ip: ctx.clientIp() })),
  refresh: limitedByIp("refresh", "REFRESH_RATE_LIMIT_PER_MINUTE")
    .meta(auth("POST", "/refresh", "Exchange a refresh token for a new token pair", true, { 401: "Invalid, expired, revoked or reused refresh token" }))
    .input(ZRefreshRequest)
    .output(ZTokenResponse)
    .mutation(({ ctx, input }) => rotateRefreshToken(ctx.app, input.refresh_token)),
  verifyEmail: publicProcedure
    .meta(auth("POST", "/verify-email", "Confirm an email address with the mailed token", true))
    .input(ZVerifyEmailRequest)
    .output(ZMessageResponse)
    .mutation(async ({ ctx, input }) => {
      await verifyEmail(ctx.app, input.token);
      return { message: "Email verified." };
    }),
  resendVerification: limitedByIp("reset", "RESET_RATE_LIMIT_PER_MINUTE")
    .meta(auth("POST", "/resend-verification", "Mail a new verification link", true))
    .input(ZEmailRequest)
    .output(ZMessageResponse)
    .mutation(({ ctx, input }) => {
      resendVerification(ctx.app, input.email);
      return { message: NOT_REVEALING };
    }),
  requestPasswordReset: limitedByIp("reset", "RESET_RATE_LIMIT_PER_MINUTE")
    .meta(auth("POST", "/request-password-reset", "Mail a password reset link", true))
    .input(ZEmailRequest)
    .output(ZMessageResponse)
    .mutation(({ ctx, input }) => {
      requestPasswordReset(ctx.app, input.email);
      return { message: NOT_REVEALING };
    }),
  resetPassword: limitedByIp("reset", "RESET_RATE_LIMIT_PER_MINUTE")
    .meta(auth("POST", "/reset-password", "Set a new password with the mailed token", true))
    .input(ZResetPasswordRequest)
    .output(ZMessageResponse)
    .mutation(async ({ ctx, input }) => {
      await resetPassword(ctx.app, input.token, input.new_password);
      return { message: "Password changed. Every session was signed out." };
    }),
  me: authedProcedure
    .meta(auth("GET", "/me", "The caller's account"))
    .input(ZNoInput)
    .output(ZAuthUserResponse)
    .query(({ ctx }) => getAuthUser(ctx.app, ctx.user.id)),
  sessions: authedProcedure
    .meta(auth("GET", "/sessions", "The caller's active sessions"))
    .input(ZNoInput)
    .output(z.array(ZSessionRead))
    .query(({ ctx }) => listSessions(ctx.app, ctx.user)),
  revokeSession: authedProcedure
    .meta({ ...auth("DELETE", "/sessions/{jti}", "Sign out one of the caller's sessions"), status: 204 })
    .input(ZSessionJti)
    .output(z.void())
    .mutation(({ ctx, input }) => revokeSession(ctx.app, ctx.user, input.jti)),
  revokeOtherSessions: authedProcedure
    .meta({ ...auth("DELETE", "/sessions", "Sign out every session but the current one"), status: 204 })
    .input(ZNoInput)
    .output(z.void())
    .mutation(({ ctx }) => revokeOtherSessions(ctx.app, ctx.user)),
  setupTwoFactor: authedProcedure
    .meta(auth("POST", "/2fa/setup", "Create a new TOTP secret (not active until enabled)", false, { 409: "Already enabled" }))
    .input(ZNoInput)
    .output(ZTwoFactorSetupResponse)
    .mutation(({ ctx }) => setupTwoFactor(ctx.app, ctx.user.id)),
  enableTwoFactor: authedProcedure
    .meta(auth("POST", "/2fa/enable", "Turn on two-factor authentication", false, { 409: "Already enabled", 429: "Too many wrong codes: the account's failed-login lock" }))
    .input(ZTwoFactorCodeRequest)
    .output(ZMessageResponse)
    .mutation(async ({ ctx, input }) => {
      await enableTwoFactor(ctx.app, ctx.user.id, input.code);
      return { message: "Two-factor authentication enabled." };
    }),
  disableTwoFactor: authedProcedure
    .meta(auth("POST", "/2fa/disable", "Turn off two-factor authentication", false, { 429: "Too many wrong codes: the account's failed-login lock" }))
    .input(ZTwoFactorCodeRequest)
    .output(ZMessageResponse)
    .mutation(async ({ ctx, input }) => {
      await disableTwoFactor(ctx.app, ctx.user.id, input.code);
      return { message: "Two-factor authentication disabled." };
    }),
});
