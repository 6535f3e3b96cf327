/**
 * AppError is what services throw; this file is the one table mapping its codes to HTTP statuses
 * and tRPC codes. Only src/trpc.ts turns it into a TRPCError.
 */
export const ERROR_CODES = {
  BAD_REQUEST: { status: 400, trpc: "BAD_REQUEST" },
  UNAUTHORIZED: { status: 401, trpc: "UNAUTHORIZED" },
  FORBIDDEN: { status: 403, trpc: "FORBIDDEN" },
  NOT_FOUND: { status: 404, trpc: "NOT_FOUND" },
  METHOD_NOT_ALLOWED: { status: 405, trpc: "METHOD_NOT_SUPPORTED" },
  CONFLICT: { status: 409, trpc: "CONFLICT" },
  // tRPC has no GONE; PRECONDITION_FAILED keeps "reload your state" apart from NOT_FOUND for tRPC clients.
  GONE: { status: 410, trpc: "PRECONDITION_FAILED" },
  PAYLOAD_TOO_LARGE: { status: 413, trpc: "PAYLOAD_TOO_LARGE" },
  UNPROCESSABLE: { status: 422, trpc: "UNPROCESSABLE_CONTENT" },
  RATE_LIMITED: { status: 429, trpc: "TOO_MANY_REQUESTS" },
  INTERNAL: { status: 500, trpc: "INTERNAL_SERVER_ERROR" },
  UNAVAILABLE: { status: 503, trpc: "SERVICE_UNAVAILABLE" },
} as const;

export type AppErrorCode = keyof typeof ERROR_CODES;

export class AppError extends Error {
  constructor(
    readonly code: AppErrorCode,
    message: string,
    /** Seconds until a rate-limited caller may retry (sets `Retry-After`). */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = "AppError";
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

export const notFound = (what = "Not found") => new AppError("NOT_FOUND", what);
export const forbidden = (why = "Forbidden") => new AppError("FORBIDDEN", why);
export const unprocessable = (why: string) => new AppError("UNPROCESSABLE", why);
export const conflict = (why: string) => new AppError("CONFLICT", why);
export const unauthorized = (why = "Not authenticated") => new AppError("UNAUTHORIZED", why);
export const rateLimited = (retryAfter: number) =>
  new AppError("RATE_LIMITED", `Rate limit exceeded. Retry in ${retryAfter} seconds.`, retryAfter);

/** HTTP status for a tRPC error code (for errors tRPC itself raises, e.g. input parsing). */
export function statusForTrpcCode(code: string): number {
  for (const entry of Object.values(ERROR_CODES)) if (entry.trpc === code) return entry.status;
  return 500;
}
