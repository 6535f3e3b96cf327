/**
 * initTRPC and the procedure builders. The only module that knows TRPCError: services throw
 * AppError, which the `boundary` middleware maps through src/errors.ts. Unknown errors are
 * logged with the request id and answered as a bare 500 (or 503 when a backing service is down);
 * no stack, SQL or driver text reaches a client.
 */
import { initTRPC, TRPCError } from "@trpc/server";
import type { OpenApiMeta } from "trpc-to-openapi";
import { ZodError } from "zod";
import type { Context } from "./context";
import { AppError, ERROR_CODES } from "./errors";
import { describeError } from "./lib/logger";
import { formatZodError } from "./lib/zod-errors";

export type Meta = OpenApiMeta & {
  /** REST success status; 200 when absent (CONTRACT: 201 for creations, 204 without body). */
  status?: 200 | 201 | 204;
};

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    isDev: false,
    errorFormatter({ shape, error }) {
      const detail = error.cause instanceof ZodError ? formatZodError(error.cause) : error.message;
      const retryAfter = error.cause instanceof AppError ? error.cause.retryAfter : undefined;
      return {
        message: detail,
        code: shape.code,
        data: { code: shape.data.code, httpStatus: shape.data.httpStatus, path: shape.data.path, detail, retryAfter },
      };
    },
  });

/** True for driver errors that mean "a backing service is unreachable", answered 503. */
export function isUnavailableError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|CONNECT_TIMEOUT|CONNECTION_(CLOSED|ENDED|DESTROYED)|57P0[1-3]|08\d{3})$/.test(code))
    return true;
  return /Stream isn't writeable|Connection is closed|MaxRetriesPerRequest|connect ECONNREFUSED/i.test(err.message) || err.name === "MaxRetriesPerRequestError";
}

/** The error, or the error it wraps (drizzle wraps the driver's), is a backing service being down. */
export function isUnavailableOrWraps(err: unknown): boolean {
  return isUnavailableError(err) || isUnavailableError((err as { cause?: unknown } | null)?.cause);
}

/** An AppError raised outside a procedure (building the context) as the TRPCError of its code. */
export function appErrorAsTrpc(err: AppError): TRPCError {
  return new TRPCError({ code: ERROR_CODES[err.code].trpc, message: err.message, cause: err });
}

export function toTrpcError(err: unknown, ctx: Context): TRPCError {
  if (err instanceof TRPCError) {
    // Input validation is 422 on every transport (CONTRACT §2), not tRPC's default 400.
    if (err.cause instanceof ZodError && err.code === "BAD_REQUEST")
      return new TRPCError({ code: "UNPROCESSABLE_CONTENT", message: formatZodError(err.cause), cause: err.cause });
    if (err.code !== "INTERNAL_SERVER_ERROR" || err.cause instanceof ZodError) return err;
    return toTrpcError(err.cause ?? err, ctx);
  }
  if (err instanceof AppError) return new TRPCError({ code: ERROR_CODES[err.code].trpc, message: err.message, cause: err });
  if (isUnavailableOrWraps(err)) {
    ctx.app.log.warn("backing service unavailable", { request_id: ctx.requestId, ...describeError(err) });
    return new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "Service temporarily unavailable" });
  }
  ctx.app.log.error("unhandled error", { request_id: ctx.requestId, ...describeError(err) });
  return new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "Internal server error" });
}

/**
 * PostgreSQL text cannot hold NUL, and unpaired UTF-16 surrogates would be stored as U+FFFD: refuse
 * both up front (422 naming the field) for every procedure, whatever its schema says.
 */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function findUnstorableString(value: unknown, path: string, depth = 0): string | null {
  if (typeof value === "string") return UNSTORABLE.test(value) ? path || "body" : null;
  if (depth > 8 || value === null || typeof value !== "object") return null;
  for (const [key, child] of Object.entries(value)) {
    const found = findUnstorableString(child, path ? `${path}.${key}` : key, depth + 1);
    if (found) return found;
  }
  return null;
}

/**
 * Every procedure's outermost layer: refuses unstorable strings, then maps whatever the procedure
 * threw. One middleware rather than two: each tRPC layer costs a call chain and a copy of its options.
 */
const boundary = t.middleware(async ({ ctx, next, getRawInput }) => {
  await refuseUnstorableInput(ctx, getRawInput);
  const result = await next();
  if (!result.ok) throw toTrpcError(result.error, ctx);
  return result;
});

/**
 * The caller check and `boundary` in one layer, for the same reason. The caller comes first: an
 * anonymous call is 401 whatever its input (CONTRACT §2), as schema validation after it already was.
 */
const authedBoundary = t.middleware(async ({ ctx, next, getRawInput }) => {
  const user = ctx.user;
  if (!user) throw toTrpcError(new AppError("UNAUTHORIZED", ctx.badToken ? "Invalid or expired token" : "Not authenticated"), ctx);
  await refuseUnstorableInput(ctx, getRawInput);
  const result = await next({ ctx: { user } });
  if (!result.ok) throw toTrpcError(result.error, ctx);
  return result;
});

async function refuseUnstorableInput(ctx: Context, getRawInput: () => Promise<unknown>): Promise<void> {
  const raw = await getRawInput().catch((err: unknown) => {
    throw toTrpcError(err, ctx);
  });
  const field = findUnstorableString(raw, "");
  if (field) throw toTrpcError(new AppError("UNPROCESSABLE", `${field}: must not contain NUL or unpaired surrogate characters`), ctx);
}

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const publicProcedure = t.procedure.use(boundary);
export const authedProcedure = t.procedure.use(authedBoundary);
