import { z } from "zod";
import { ZTimestamp, zNonBlank } from "../../lib/zod";

export const ZEmail = z
  .string()
  .trim()
  .max(254, "must be at most 254 characters")
  .pipe(z.email("must be a valid email address"))
  .transform((e) => e.toLowerCase());
export const ZUsername = z.string().regex(/^[A-Za-z0-9_]{3,32}$/, "must be 3-32 letters, digits or underscores");
export const ZPassword = z.string().min(8, "must be at least 8 characters").max(128, "must be at most 128 characters");
export const ZName = zNonBlank(64);

export const ZRegisterRequest = z
  .object({ email: ZEmail, name: ZName, username: ZUsername, password: ZPassword })
  .meta({ id: "RegisterRequest", example: { email: "user@example.com", name: "Benya", username: "benya", password: "strongpassword" } });

export const ZLoginRequest = z
  .object({
    email: ZEmail,
    password: z.string().min(1, "must not be empty").max(1024, "is too long"),
    otp_code: z.string().max(16, "is too long").nullish(),
  })
  .meta({ id: "LoginRequest", example: { email: "user@example.com", password: "strongpassword", otp_code: "123456" } });

export const ZTokenResponse = z
  .object({ access_token: z.string(), refresh_token: z.string(), token_type: z.literal("bearer") })
  .meta({ id: "TokenResponse" });

export const ZAuthUserResponse = z
  .object({
    id: z.number().int(),
    email: z.string(),
    name: z.string(),
    username: z.string(),
    bio: z.string().nullable(),
    avatar_url: z.string().nullable(),
    email_verified: z.boolean(),
    twofa_enabled: z.boolean(),
    created_at: ZTimestamp,
    updated_at: ZTimestamp,
  })
  .meta({ id: "AuthUserResponse" });
export type TAuthUserResponse = z.infer<typeof ZAuthUserResponse>;

export const ZRefreshRequest = z
  .object({ refresh_token: z.string().min(1, "must not be empty").max(4096, "is too long") })
  .meta({ id: "RefreshRequest" });

const ZMailToken = z.string().trim().min(1, "must not be empty").max(512, "is too long");

export const ZVerifyEmailRequest = z.object({ token: ZMailToken }).meta({ id: "VerifyEmailRequest" });

export const ZEmailRequest = z.object({ email: ZEmail }).meta({ id: "EmailRequest", example: { email: "user@example.com" } });

export const ZResetPasswordRequest = z
  .object({ token: ZMailToken, new_password: ZPassword })
  .meta({ id: "ResetPasswordRequest", example: { token: "reset_token", new_password: "newStrongPassword" } });

export const ZSessionRead = z
  .object({
    jti: z.string(),
    created_at: ZTimestamp,
    last_used_at: ZTimestamp,
    expires_at: ZTimestamp,
    user_agent: z.string().nullable(),
    ip: z.string().nullable(),
    current: z.boolean(),
  })
  .meta({ id: "SessionRead" });
export type TSessionRead = z.infer<typeof ZSessionRead>;

export const ZSessionJti = z.object({ jti: z.string().min(1, "must not be empty").max(128, "is too long") });

export const ZTwoFactorSetupResponse = z
  .object({ secret: z.string(), otpauth_url: z.string() })
  .meta({ id: "TwoFactorSetupResponse", example: { secret: "BASE32SECRET", otpauth_url: "otpauth://totp/Parley:user%40example.com?..." } });
export type TTwoFactorSetupResponse = z.infer<typeof ZTwoFactorSetupResponse>;

export const ZTwoFactorCodeRequest = z
  .object({ code: z.string().trim().min(1, "must not be empty").max(16, "is too long") })
  .meta({ id: "TwoFactorCodeRequest", example: { code: "123456" } });
