/** The caller's sessions: list, revoke one, revoke all but the current one (CONTRACT §3). */
import { and, desc, eq, gt } from "drizzle-orm";
import type { App } from "../../app";
import type { AuthedUser } from "../../auth/authenticate";
import { revokeSessions } from "../../auth/revocation";
import { sessions } from "../../db/schema";
import { notFound } from "../../errors";
import { iso } from "../../lib/time";
import type { TSessionRead } from "./schemas";

export async function listSessions(app: App, caller: AuthedUser): Promise<TSessionRead[]> {
  const rows = await app.db
    .select()
    .from(sessions)
    .where(and(eq(sessions.userId, caller.id), gt(sessions.expiresAt, new Date())))
    .orderBy(desc(sessions.createdAt), desc(sessions.id));
  return rows.map((s) => ({
    jti: s.id,
    created_at: iso(s.createdAt),
    last_used_at: iso(s.lastUsedAt),
    expires_at: iso(s.expiresAt),
    user_agent: s.userAgent,
    ip: s.ip,
    current: s.id === caller.sessionId,
  }));
}

/** Another user's jti answers 404, exactly like one that never existed. */
export async function revokeSession(app: App, caller: AuthedUser, jti: string): Promise<void> {
  const revoked = await revokeSessions(app, caller.id, { only: jti });
  if (revoked.sessionIds.length === 0) throw notFound("Session not found");
}

export async function revokeOtherSessions(app: App, caller: AuthedUser): Promise<void> {
  await revokeSessions(app, caller.id, { allExcept: caller.sessionId });
}
