/**
 * The only module that reads the environment (CONTRACT §1).
 *
 * `loadConfig(env)` is pure so tests can build configs for in-process servers; `ConfigError` carries
 * the one line printed at start-up (no stack trace for configuration mistakes).
 */
import { isIP } from "node:net";
import { z } from "zod";

export class ConfigError extends Error {}

/** An IPv4/IPv6 address, or a DNS host name; dotted digits that are no IPv4 address (999.1.1.1) are neither. */
function isListenHost(host: string): boolean {
  if (isIP(host) !== 0) return true;
  if (/^[\d.]+$/.test(host)) return false;
  return host.length <= 253 && host.split(".").every((label) => /^[a-z\d]([a-z\d-]{0,61}[a-z\d])?$/i.test(label));
}

const boolFromString = (fallback: boolean) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return fallback;
      const s = v.toLowerCase();
      if (["1", "true", "yes", "on"].includes(s)) return true;
      if (["0", "false", "no", "off"].includes(s)) return false;
      ctx.addIssue({ code: "custom", message: `expected true or false, got "${v}"` });
      return z.NEVER;
    });

const nonNegativeInt = (fallback: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return fallback;
      if (!/^\d+$/.test(v.trim())) {
        ctx.addIssue({ code: "custom", message: `expected a non-negative integer, got "${v}"` });
        return z.NEVER;
      }
      return Number(v.trim());
    });

const url = (protocols: string[]) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return undefined;
      let parsed: URL;
      try {
        parsed = new URL(v);
      } catch {
        ctx.addIssue({ code: "custom", message: "is not a valid URL" });
        return z.NEVER;
      }
      if (!protocols.includes(parsed.protocol)) {
        ctx.addIssue({ code: "custom", message: `must use one of ${protocols.join(", ")}` });
        return z.NEVER;
      }
      return v;
    });

/**
 * CORS_ALLOWED_ORIGINS: `*`, or origins as browsers send them (`scheme://host[:port]`), normalised
 * the way the `Origin` header is (lower-case host, no default port) so matching is a plain compare.
 */
const corsOrigins = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v.trim() === "") return undefined;
    const entries = v.split(",").map((s) => s.trim()).filter(Boolean);
    if (entries.includes("*")) {
      if (entries.length === 1) return ["*"];
      ctx.addIssue({ code: "custom", message: "* allows every origin: use it alone" });
      return z.NEVER;
    }
    const origins: string[] = [];
    for (const entry of entries) {
      const origin = originOf(entry);
      if (!origin) {
        ctx.addIssue({ code: "custom", message: `"${entry}" is not an http(s) origin (scheme://host[:port], no path), nor *` });
        return z.NEVER;
      }
      origins.push(origin);
    }
    if (origins.length === 0) {
      ctx.addIssue({ code: "custom", message: "expected comma-separated origins or *" });
      return z.NEVER;
    }
    return origins;
  });

function originOf(entry: string): string | null {
  let u: URL;
  try {
    u = new URL(entry);
  } catch {
    return null;
  }
  const bare = u.pathname === "/" && !u.search && !u.hash && !u.username && !u.password && !entry.endsWith("?") && !entry.endsWith("#");
  return (u.protocol === "http:" || u.protocol === "https:") && bare ? u.origin : null;
}

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === "" ? undefined : v));

const EnvSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  PORT: nonNegativeInt(3000).refine((p) => p <= 65535, "must be a port number (0..65535)"),
  HOST: z
    .string()
    .min(1)
    .default("127.0.0.1")
    .refine(isListenHost, "must be an IP address or a host name (letters, digits, hyphens, dots)"),
  DATA_DIR: z.string().min(1).default(".data"),
  DATABASE_URL: url(["postgres:", "postgresql:"]),
  REDIS_URL: url(["redis:", "rediss:"]),
  /** Prefix of every Redis key and channel (instances of one deployment share it). */
  REDIS_PREFIX: z.string().min(1).default("parley:"),
  JWT_SECRET: optionalString.refine((s) => s === undefined || s.length >= 32, "must be at least 32 characters"),
  ACCESS_TOKEN_TTL_SECONDS: nonNegativeInt(900).refine((n) => n > 0, "must be positive"),
  REFRESH_TOKEN_TTL_SECONDS: nonNegativeInt(2592000).refine((n) => n > 0, "must be positive"),
  FRONTEND_URL: url(["http:", "https:"]).transform((v) => (v ?? "http://localhost:5173").replace(/\/+$/, "")),
  SMTP_URL: url(["smtp:", "smtps:"]),
  MAIL_FROM: z.string().default("Parley <no-reply@parley.local>"),
  S3_ENDPOINT: url(["http:", "https:"]),
  S3_REGION: z.string().default("us-east-1"),
  S3_BUCKET: optionalString,
  S3_ACCESS_KEY_ID: optionalString,
  S3_SECRET_ACCESS_KEY: optionalString,
  S3_FORCE_PATH_STYLE: boolFromString(true),
  S3_PUBLIC_URL: url(["http:", "https:"]),
  MAX_UPLOAD_SIZE_BYTES: nonNegativeInt(52428800).refine((n) => n > 0, "must be positive"),
  LOGIN_RATE_LIMIT_PER_MINUTE: nonNegativeInt(10),
  REGISTER_RATE_LIMIT_PER_MINUTE: nonNegativeInt(5),
  REFRESH_RATE_LIMIT_PER_MINUTE: nonNegativeInt(30),
  RESET_RATE_LIMIT_PER_MINUTE: nonNegativeInt(5),
  MESSAGE_RATE_LIMIT_PER_MINUTE: nonNegativeInt(60),
  FAILED_LOGIN_LIMIT_PER_HOUR: nonNegativeInt(100),
  DUPLICATE_MESSAGE_COOLDOWN_SECONDS: nonNegativeInt(10),
  REQUIRE_EMAIL_VERIFICATION: boolFromString(true),
  TRUST_PROXY: boolFromString(false),
  MAX_BODY_BYTES: nonNegativeInt(1048576).refine((n) => n > 0, "must be positive"),
  WS_ALLOWED_ORIGINS: optionalString,
  /** Open WebSockets one user may hold on one instance; more are refused (429 / close 4029). */
  WS_MAX_CONNECTIONS_PER_USER: nonNegativeInt(32).refine((n) => n > 0, "must be positive"),
  /** Browser origins allowed to call /api/v1, /trpc and /files (src/http/cors.ts); unset: FRONTEND_URL's origin. */
  CORS_ALLOWED_ORIGINS: corsOrigins,
  /** PostgreSQL connections per instance (postgres.js pool; PGlite has one). Why 8: src/db/client.ts. */
  DATABASE_POOL_SIZE: nonNegativeInt(8).refine((n) => n >= 2, "must be at least 2"),
  /** Realtime presence lease: a crashed instance's users go offline within this many seconds. */
  PRESENCE_LEASE_SECONDS: nonNegativeInt(30).refine((n) => n >= 2, "must be at least 2"),
  /** How long a confirmed session is trusted without another lookup; the contract allows 1 s of revocation lag. */
  SESSION_CACHE_MS: nonNegativeInt(1000).refine((n) => n <= 1000, "must be at most 1000 (revocation must take effect within one second)"),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
});

export type Config = Omit<z.output<typeof EnvSchema>, "CORS_ALLOWED_ORIGINS"> & {
  /** Normalised origins, or `["*"]`; never empty. */
  CORS_ALLOWED_ORIGINS: readonly string[];
  /** S3 is configured when an endpoint and a bucket are set; otherwise local disk storage. */
  s3Enabled: boolean;
  /** Base of every `file_url` (S3_PUBLIC_URL, else endpoint/bucket, else our own /files route). */
  publicFileBase: string | undefined;
};

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = issue?.path.join(".") ?? "environment";
    throw new ConfigError(`${name}: ${issue?.message ?? "invalid value"}`);
  }
  const c = parsed.data;
  if (c.NODE_ENV === "production") {
    const missing = [
      c.DATABASE_URL ? null : "DATABASE_URL",
      c.REDIS_URL ? null : "REDIS_URL",
      c.JWT_SECRET ? null : "JWT_SECRET",
    ].filter((x): x is string => x !== null);
    if (missing.length > 0) {
      throw new ConfigError(`${missing.join(", ")}: required when NODE_ENV=production`);
    }
  }
  const s3Enabled = Boolean(c.S3_ENDPOINT && c.S3_BUCKET);
  if (c.S3_ENDPOINT && !c.S3_BUCKET) throw new ConfigError("S3_BUCKET: required when S3_ENDPOINT is set");
  const publicFileBase = (c.S3_PUBLIC_URL ?? (s3Enabled ? `${c.S3_ENDPOINT}/${c.S3_BUCKET}` : undefined))?.replace(
    /\/+$/,
    "",
  );
  // The default lets `bun run dev` serve a Vite front-end on FRONTEND_URL without more settings.
  const CORS_ALLOWED_ORIGINS = c.CORS_ALLOWED_ORIGINS ?? [new URL(c.FRONTEND_URL).origin];
  return { ...c, CORS_ALLOWED_ORIGINS, s3Enabled, publicFileBase };
}
