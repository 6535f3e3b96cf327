/**
 * The one way sessions end before they expire. Deleting the row is what makes tokens stop working.
 * After commit, `announceRevoked` drops the sessions from this instance's session cache and tells
 * every instance through the broker: their caches drop them too and the realtime gateway closes
 * their sockets. If that message is lost, cached confirmations still expire within one second.
 */
import { and, eq, ne } from "drizzle-orm";
import type { App } from "../app";
import type { DbOrTx } from "../db/client";
import { sessions } from "../db/schema";
import { sessionCacheFor } from "./session-cache";

export const SESSIONS_REVOKED_CHANNEL = "sessions:revoked";

export interface RevokedSessions {
  userId: number;
  sessionIds: string[];
}

export type RevokeScope = { only: string } | { allExcept: string } | "all";

/** Deletes the user's sessions in `scope` (inside `db`, which may be a transaction); answers what went. */
export async function deleteSessions(db: DbOrTx, userId: number, scope: RevokeScope): Promise<RevokedSessions> {
  const where =
    scope === "all"
      ? eq(sessions.userId, userId)
      : "only" in scope
        ? and(eq(sessions.userId, userId), eq(sessions.id, scope.only))
        : and(eq(sessions.userId, userId), ne(sessions.id, scope.allExcept));
  const rows = await db.delete(sessions).where(where).returning({ id: sessions.id });
  return { userId, sessionIds: rows.map((r) => r.id) };
}

/** The session ids of a `sessions:revoked` message; null when it is malformed. */
export function revokedSessionIds(message: string): string[] | null {
  try {
    const parsed = JSON.parse(message) as { session_ids?: unknown };
    return Array.isArray(parsed.session_ids) ? parsed.session_ids.filter((id): id is string => typeof id === "string") : null;
  } catch {
    return null;
  }
}

/** Tells every instance (after commit) that these sessions are gone. */
export async function announceRevoked(app: App, revoked: RevokedSessions): Promise<void> {
  if (revoked.sessionIds.length === 0) return;
  sessionCacheFor(app).forget(revoked.sessionIds);
  try {
    await app.broker.publish(
      SESSIONS_REVOKED_CHANNEL,
      JSON.stringify({ session_ids: revoked.sessionIds, user_id: revoked.userId }),
    );
  } catch (err) {
    // The rows are gone already, so HTTP is refused regardless; only socket closing is late.
    app.log.warn("could not announce revoked sessions", { user_id: revoked.userId, error: String(err) });
  }
}

export async function revokeSessions(app: App, userId: number, scope: RevokeScope): Promise<RevokedSessions> {
  const revoked = await deleteSessions(app.db, userId, scope);
  await announceRevoked(app, revoked);
  return revoked;
}
