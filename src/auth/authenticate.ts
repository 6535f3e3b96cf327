/**
 * Turns a bearer access token into the caller. The session is validated through lucia (one
 * primary-key join) unless PostgreSQL confirmed it less than SESSION_CACHE_MS ago
 * (session-cache.ts: revocations drop entries at once, and never take effect later than the
 * contract's one second). `last_used_at` is written at most once a minute per session, batched
 * off the request path (last-used.ts), so the check stays a read.
 */
import type { App } from "../app";
import { verifyJwt } from "./jwt";
import { luciaFor } from "./lucia";
import { markSessionUsed } from "./last-used";
import { sessionCacheFor } from "./session-cache";

export interface AuthedUser {
  id: number;
  sessionId: string;
}

const LAST_USED_RESOLUTION_MS = 60_000;

/** `rememberToken: false` for a token presented once (WebSocket upgrades; jwt.ts). */
export async function authenticateAccessToken(app: App, token: string, opts: { rememberToken?: boolean } = {}): Promise<AuthedUser | null> {
  const claims = verifyJwt(token, app.jwtSecret, "access", { remember: opts.rememberToken ?? true });
  if (!claims) return null;
  const userId = Number(claims.sub);
  if (!Number.isSafeInteger(userId)) return null;
  const cache = sessionCacheFor(app);
  const cached = cache.get(claims.jti);
  if (cached) {
    if (cached.userId !== userId) return null;
    touchIfStale(app, claims.jti, cached.lastUsedAt);
    return { id: userId, sessionId: claims.jti };
  }
  const lookupStartedAt = Date.now();
  const { session } = await luciaFor(app).validateSession(claims.jti);
  if (!session || session.userId !== userId) return null;
  const lastUsed = session.lastUsedAt?.getTime() ?? 0;
  cache.remember(session.id, { userId, expiresAt: session.expiresAt.getTime(), lastUsedAt: lastUsed }, lookupStartedAt);
  touchIfStale(app, session.id, lastUsed);
  return { id: userId, sessionId: session.id };
}

function touchIfStale(app: App, sessionId: string, lastUsed: number): void {
  const now = Date.now();
  if (now - lastUsed <= LAST_USED_RESOLUTION_MS) return;
  sessionCacheFor(app).markUsed(sessionId, now);
  markSessionUsed(app, sessionId);
}

export function bearerToken(header: string | null): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return match?.[1] ?? null;
}
