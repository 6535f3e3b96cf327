/** /health, /health/live and /health/ready with the reference's exact bodies (§4). */
import type { App } from "../app";
import { errorResponse, json } from "./respond";

export async function checkReadiness(app: App): Promise<{ ready: boolean; db: boolean; redis: boolean }> {
  const [db, redis] = await Promise.all([app.database.ping(2000), app.broker.ping(2000)]);
  return { ready: db && redis, db, redis };
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
    return json({ detail: { status: "not_ready", db: r.db, redis: r.redis } }, 503);
  }
  return null;
}
