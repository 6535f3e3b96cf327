/**
 * Lucia v3 over our own `sessions` and `users` tables (a small drizzle adapter instead of another
 * package). Lucia owns session creation, validation and single invalidation; the session id is the
 * JWT `jti`. What lucia has no notion of (refresh rotation, "all but the current one") lives in
 * tokens.ts and revocation.ts on the same rows.
 *
 * One Lucia per App (it captures the App's database and token lifetime), created on first use.
 */
import { eq, lte, sql } from "drizzle-orm";
import { Lucia, TimeSpan, type Adapter, type DatabaseSession, type DatabaseUser } from "lucia";
import type { App } from "../app";
import type { Db } from "../db/client";
import { prepared } from "../db/prepared";
import { emailTokens, sessions, users } from "../db/schema";

export interface SessionAttributes {
  userAgent: string | null;
  ip: string | null;
  refreshTokenHash: string | null;
  createdAt?: Date;
  lastUsedAt?: Date;
}

declare module "lucia" {
  interface Register {
    Lucia: ParleyLucia;
    UserId: number;
    DatabaseSessionAttributes: SessionAttributes;
    DatabaseUserAttributes: Record<never, never>;
  }
}

export type ParleyLucia = Lucia<SessionAttributes, Record<never, never>>;

type SessionRow = typeof sessions.$inferSelect;

const toDatabaseSession = (row: SessionRow): DatabaseSession => ({
  id: row.id,
  userId: row.userId,
  expiresAt: row.expiresAt,
  attributes: {
    userAgent: row.userAgent,
    ip: row.ip,
    refreshTokenHash: row.refreshTokenHash,
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt,
  },
});

export function drizzleSessionAdapter(db: Db): Adapter {
  return {
    async getSessionAndUser(sessionId) {
      // Runs on every authenticated request: prepared once per database.
      const rows = await prepared(db, "lucia_session_and_user", (d) =>
        d
          .select({ session: sessions, userId: users.id })
          .from(sessions)
          .innerJoin(users, eq(users.id, sessions.userId))
          .where(eq(sessions.id, sql.placeholder("id")))
          .limit(1)
          .prepare("lucia_session_and_user"),
      ).execute({ id: sessionId });
      const row = rows[0];
      if (!row) return [null, null];
      const user: DatabaseUser = { id: row.userId, attributes: {} };
      return [toDatabaseSession(row.session), user];
    },
    async getUserSessions(userId) {
      const rows = await db.select().from(sessions).where(eq(sessions.userId, userId));
      return rows.map(toDatabaseSession);
    },
    async setSession(session) {
      await db.insert(sessions).values({
        id: session.id,
        userId: session.userId,
        expiresAt: session.expiresAt,
        userAgent: session.attributes.userAgent,
        ip: session.attributes.ip,
        refreshTokenHash: session.attributes.refreshTokenHash,
      });
    },
    async updateSessionExpiration(sessionId, expiresAt) {
      // Runs on the first request of a session past half its life (a whole reconnect storm of
      // such sessions after a restart): prepared once per database, like the lookup.
      await prepared(db, "lucia_update_expiration", (d) =>
        d
          .update(sessions)
          .set({ expiresAt: sql`${sql.placeholder("expiresAt")}` })
          .where(eq(sessions.id, sql.placeholder("id")))
          .prepare("lucia_update_expiration"),
      ).execute({ id: sessionId, expiresAt: expiresAt.toISOString() });
    },
    async deleteSession(sessionId) {
      await db.delete(sessions).where(eq(sessions.id, sessionId));
    },
    async deleteUserSessions(userId) {
      await db.delete(sessions).where(eq(sessions.userId, userId));
    },
    async deleteExpiredSessions() {
      await db.delete(sessions).where(lte(sessions.expiresAt, new Date()));
    },
  };
}

const instances = new WeakMap<App, ParleyLucia>();

export function luciaFor(app: App): ParleyLucia {
  let lucia = instances.get(app);
  if (!lucia) {
    lucia = new Lucia(drizzleSessionAdapter(app.db), {
      // A session lives as long as its refresh token; each rotation extends both.
      sessionExpiresIn: new TimeSpan(app.config.REFRESH_TOKEN_TTL_SECONDS, "s"),
      getSessionAttributes: (a) => a,
    });
    instances.set(app, lucia);
    scheduleCleanup(app, lucia);
  }
  return lucia;
}

const CLEANUP_INTERVAL_MS = 3600_000;

/** Expired sessions and mail tokens are dead weight; every instance sweeps hourly (idempotent deletes). */
function scheduleCleanup(app: App, lucia: ParleyLucia): void {
  const sweep = async () => {
    try {
      await lucia.deleteExpiredSessions();
      await app.db.delete(emailTokens).where(lte(emailTokens.expiresAt, new Date()));
    } catch (err) {
      app.log.warn("expired session cleanup failed", { error: String(err) });
    }
  };
  const timer = setInterval(() => void sweep(), CLEANUP_INTERVAL_MS);
  timer.unref();
  app.onClose(() => clearInterval(timer));
}
