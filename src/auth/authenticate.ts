/**
 * Turns a bearer access token into the caller. The session is validated through lucia on every
 * request (one primary-key join), so a revoked session is refused at once on every instance — no
 * cache to invalidate. `last_used_at` is written at most once a minute per session so the check
 * stays a read.
 */
import { eq } from "drizzle-orm";
import type { App } from "../app";
import { sessions } from "../db/schema";
import { verifyJwt } from "./jwt";
import { luciaFor } from "./lucia";

export interface AuthedUser {
  id: number;
  sessionId: string;
}

const LAST_USED_RESOLUTION_MS = 60_000;

export async function authenticateAccessToken(app: App, token: string): Promise<AuthedUser | null> {
  const claims = verifyJwt(token, app.jwtSecret, "access");
  if (!claims) return null;
  const userId = Number(claims.sub);
  if (!Number.isSafeInteger(userId)) return null;
  const { session } = await luciaFor(app).validateSession(claims.jti);
  if (!session || session.userId !== userId) return null;
  const lastUsed = session.lastUsedAt?.getTime() ?? 0;
  if (Date.now() - lastUsed > LAST_USED_RESOLUTION_MS) touchSession(app, session.id);
  return { id: userId, sessionId: session.id };
}

/** Best effort and off the request path: a lost `last_used_at` write is harmless. */
function touchSession(app: App, sessionId: string): void {
  app.db
    .update(sessions)
    .set({ lastUsedAt: new Date() })
    .where(eq(sessions.id, sessionId))
    .catch((err: unknown) => app.log.warn("could not update last_used_at", { error: String(err) }));
}

export function bearerToken(header: string | null): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return match?.[1] ?? null;
}
