/** /health, /health/live and /health/ready with the reference's exact bodies (§4). */
import type { App } from "../app";
import { errorResponse, json } from "./respond";

export interface Readiness {
  ready: boolean;
  db: boolean;
  redis: boolean;
  /** The database answers but lacks migrations of this build (production does not migrate on start). */
  migrationsPending: boolean;
}

export async function checkReadiness(app: App): Promise<Readiness> {
  const [db, redis] = await Promise.all([app.database.ping(2000), app.broker.ping(2000)]);
  // Cheap: one query until it first succeeds, then remembered.
  const migrationsPending = db && !(await app.database.migrationsApplied());
  return { ready: db && redis && !migrationsPending, db, redis, migrationsPending };
}

const HEALTH_PATHS = new Set(["/health", "/health/live", "/health/ready"]);

/** The answer for a health path (GET, or HEAD as GET; another method 405); null for any other path. */
export async function handleHealth(app: App, method: string, pathname: string): Promise<Response | null> {
  if (!HEALTH_PATHS.has(pathname)) return null;
  if (method !== "GET" && method !== "HEAD") return errorResponse(405, "Method not allowed", { allow: "GET" });
  if (pathname === "/health" || pathname === "/health/live") return json({ status: "ok" });
  if (pathname === "/health/ready") {
    const r = await checkReadiness(app);
    if (r.ready) return json({ status: "ready", db: "ok", redis: "ok" });
    // The reference's body; `migrations` only when they are what is missing.
    const detail = { status: "not_ready", db: r.db, redis: r.redis, ...(r.migrationsPending ? { migrations: "pending" } : {}) };
    return json({ detail }, 503);
  }
  return null;
}
