/**
 * Sessions and the token pair of CONTRACT §3. A session row (id = JWT `jti`) is created per login;
 * each refresh rotates `rot` and stores the hash of the only refresh token that may still be used.
 */
import { eq } from "drizzle-orm";
import type { App } from "../app";
import type { DbOrTx } from "../db/client";
import { sessions } from "../db/schema";
import { randomToken, sha256Hex } from "../lib/random";
import { signJwt } from "./jwt";

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
export async function createSessionTokens(app: App, db: DbOrTx, userId: number, meta: SessionMeta): Promise<TokenPair> {
  const sessionId = randomToken(160);
  const rotation = randomToken(96);
  await db.insert(sessions).values({
    id: sessionId,
    userId,
    expiresAt: new Date(Date.now() + app.config.REFRESH_TOKEN_TTL_SECONDS * 1000),
    userAgent: meta.userAgent?.slice(0, 512) ?? null,
    ip: meta.ip,
    refreshTokenHash: sha256Hex(rotation),
  });
  return signTokenPair(app, userId, sessionId, rotation);
}

export async function revokeSession(db: DbOrTx, sessionId: string): Promise<void> {
  await db.delete(sessions).where(eq(sessions.id, sessionId));
}
