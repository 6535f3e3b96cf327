/**
 * Turns a bearer access token into the caller. The session row is checked on every request
 * (a primary-key lookup), so a revoked session is refused at once on every instance.
 */
import { and, eq, gt } from "drizzle-orm";
import type { App } from "../app";
import { sessions } from "../db/schema";
import { verifyJwt } from "./jwt";

export interface AuthedUser {
  id: number;
  sessionId: string;
}

export async function authenticateAccessToken(app: App, token: string): Promise<AuthedUser | null> {
  const claims = verifyJwt(token, app.jwtSecret, "access");
  if (!claims) return null;
  const userId = Number(claims.sub);
  if (!Number.isSafeInteger(userId)) return null;
  const rows = await app.db
    .select({ userId: sessions.userId })
    .from(sessions)
    .where(and(eq(sessions.id, claims.jti), gt(sessions.expiresAt, new Date())))
    .limit(1);
  const row = rows[0];
  if (!row || row.userId !== userId) return null;
  return { id: userId, sessionId: claims.jti };
}

export function bearerToken(header: string | null): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return match?.[1] ?? null;
}
