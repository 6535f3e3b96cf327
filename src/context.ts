/**
 * Per-request context for tRPC and the REST bridge: the app, the caller (from
 * `Authorization: Bearer`), client IP (X-Forwarded-For only with TRUST_PROXY), user agent and a
 * request id for logs. Resolving the token is a primary-key lookup of the session.
 */
import type { App } from "./app";
import { authenticateAccessToken, bearerToken, type AuthedUser } from "./auth/authenticate";
import { AppError } from "./errors";
import { isUnavailableOrWraps } from "./trpc";

export interface Context {
  app: App;
  user: AuthedUser | null;
  /** True when an Authorization header was sent but did not resolve to a live session. */
  badToken: boolean;
  /** The client's IP (asked only by the procedures that use it: Bun's requestIP costs ~5 % of a cheap call). */
  clientIp(): string;
  userAgent: string | null;
  requestId: string;
}

export interface RequestInfo {
  req: Request;
  /** Socket address as Bun reports it, asked for when needed. */
  remoteAddress: () => string | null;
  requestId: string;
}

export function clientIp(app: App, req: Request, remoteAddress: () => string | null): string {
  if (app.config.TRUST_PROXY) {
    const forwarded = req.headers.get("x-forwarded-for");
    const first = forwarded?.split(",")[0]?.trim();
    if (first) return first;
  }
  return remoteAddress() ?? "unknown";
}

export async function createContext(app: App, info: RequestInfo): Promise<Context> {
  const token = bearerToken(info.req.headers.get("authorization"));
  const user = token ? await authenticateAccessToken(app, token).catch((err: unknown) => contextFailed(app, err)) : null;
  return {
    app,
    user,
    badToken: token !== null && user === null,
    clientIp: () => clientIp(app, info.req, info.remoteAddress),
    userAgent: info.req.headers.get("user-agent"),
    requestId: info.requestId,
  };
}

/**
 * A token lookup that failed unexpectedly: logged, and answered as a plain 500 on every transport.
 * It happens outside the procedures' error mapping, and tRPC would have sent the raw message
 * (a driver's "relation … does not exist") to the caller.
 */
function contextFailed(app: App, err: unknown): never {
  if (isUnavailableOrWraps(err)) unavailableAs503(err);
  app.log.error("request context failed", { error: String(err) });
  throw new AppError("INTERNAL", "Internal server error");
}

/**
 * The token is resolved before any procedure runs, outside the procedures' error mapping: while
 * the database is down that lookup fails, and must answer 503 like a procedure would, not 500.
 */
export function unavailableAs503(err: unknown): never {
  if (isUnavailableOrWraps(err)) throw new AppError("UNAVAILABLE", "Service temporarily unavailable");
  throw err;
}
