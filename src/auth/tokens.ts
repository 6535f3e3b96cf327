/**
 * Sessions and the token pair of CONTRACT §3. A session row (id = JWT `jti`) is created per login
 * through lucia; the refresh token carries a random `rot` and the row stores only its SHA-256.
 *
 * Rotation is one conditional UPDATE (`... WHERE refresh_token_hash = <presented>`), so of several
 * refreshes racing with one token exactly one wins. A token with a valid signature whose `rot` no
 * longer matches was issued by us and rotated away: that is reuse, and the whole session is revoked.
 */
import { and, eq, gt } from "drizzle-orm";
import type { App } from "../app";
import { sessions } from "../db/schema";
import { unauthorized } from "../errors";
import { randomToken, sha256Hex } from "../lib/random";
import { signJwt, verifyJwt } from "./jwt";
import { luciaFor } from "./lucia";
import { revokeSessions } from "./revocation";

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: "bearer";
}

export interface SessionMeta {
  userAgent: string | null;
  ip: string | null;
}

export function signTokenPair(app: App, userId: number, sessionId: string, rotation: string): TokenPair {
  const now = Math.floor(Date.now() / 1000);
  const sub = String(userId);
  return {
    access_token: signJwt({ sub, jti: sessionId, typ: "access", iat: now, exp: now + app.config.ACCESS_TOKEN_TTL_SECONDS }, app.jwtSecret),
    refresh_token: signJwt(
      { sub, jti: sessionId, typ: "refresh", iat: now, exp: now + app.config.REFRESH_TOKEN_TTL_SECONDS, rot: rotation },
      app.jwtSecret,
    ),
    token_type: "bearer",
  };
}

/** Starts a session for `userId` and answers its first token pair. */
export async function createSessionTokens(app: App, userId: number, meta: SessionMeta): Promise<TokenPair> {
  const rotation = randomToken(128);
  const session = await luciaFor(app).createSession(
    userId,
    { userAgent: meta.userAgent?.slice(0, 512) ?? null, ip: meta.ip, refreshTokenHash: sha256Hex(rotation) },
    { sessionId: randomToken(160) },
  );
  return signTokenPair(app, userId, session.id, rotation);
}

const INVALID_REFRESH = "Invalid or expired refresh token";

/** Exchanges a refresh token for a new pair; the presented one stops working. */
export async function rotateRefreshToken(app: App, refreshToken: string): Promise<TokenPair> {
  const claims = verifyJwt(refreshToken, app.jwtSecret, "refresh");
  const userId = Number(claims?.sub);
  if (!claims || typeof claims.rot !== "string" || !Number.isSafeInteger(userId)) throw unauthorized(INVALID_REFRESH);
  const next = randomToken(128);
  const now = new Date();
  const rotated = await app.db
    .update(sessions)
    .set({
      refreshTokenHash: sha256Hex(next),
      expiresAt: new Date(now.getTime() + app.config.REFRESH_TOKEN_TTL_SECONDS * 1000),
      lastUsedAt: now,
    })
    .where(
      and(
        eq(sessions.id, claims.jti),
        eq(sessions.userId, userId),
        eq(sessions.refreshTokenHash, sha256Hex(claims.rot)),
        gt(sessions.expiresAt, now),
      ),
    )
    .returning({ id: sessions.id });
  if (rotated.length > 0) return signTokenPair(app, userId, claims.jti, next);
  const [session] = await app.db
    .select({ expiresAt: sessions.expiresAt })
    .from(sessions)
    .where(and(eq(sessions.id, claims.jti), eq(sessions.userId, userId)))
    .limit(1);
  if (!session || session.expiresAt <= now) throw unauthorized(INVALID_REFRESH);
  // Our signature, live session, but not its current rotation: an old token came back. Whoever
  // holds it (the user or a thief) can no longer be told apart, so the session ends for both.
  await revokeSessions(app, userId, { only: claims.jti });
  app.log.warn("refresh token reuse: session revoked", { user_id: userId });
  throw unauthorized("Refresh token reuse detected; the session was revoked");
}
