/**
 * Health procedures for the typed client. The REST paths (/health, /health/live, /health/ready)
 * are served at the root by src/http/health.ts with the reference's exact bodies.
 */
import { z } from "zod";
import { AppError } from "../../errors";
import { checkReadiness } from "../../http/health";
import { publicProcedure, router } from "../../trpc";
import { ZNoInput } from "../../lib/zod";

const ZStatus = z.object({ status: z.literal("ok") }).meta({ id: "HealthStatus" });
const ZReady = z.object({ status: z.literal("ready"), db: z.literal("ok"), redis: z.literal("ok") }).meta({ id: "HealthReady" });

export const healthRouter = router({
  check: publicProcedure
    .meta({ openapi: { method: "GET", path: "/health", tags: ["health"], summary: "Liveness of the API", protect: false } })
    .input(ZNoInput)
    .output(ZStatus)
    .query(() => ({ status: "ok" as const })),
  live: publicProcedure
    .meta({ openapi: { method: "GET", path: "/health/live", tags: ["health"], summary: "Process is alive", protect: false } })
    .input(ZNoInput)
    .output(ZStatus)
    .query(() => ({ status: "ok" as const })),
  ready: publicProcedure
    .meta({
      openapi: { method: "GET", path: "/health/ready", tags: ["health"], summary: "Database and broker reachable", protect: false, errorResponses: { 503: "Not ready" } },
    })
    .input(ZNoInput)
    .output(ZReady)
    .query(async ({ ctx }) => {
      const r = await checkReadiness(ctx.app);
      if (!r.ready) throw new AppError("UNAVAILABLE", `not ready: db=${r.db} redis=${r.redis}${r.migrationsPending ? " migrations=pending" : ""}`);
      return { status: "ready" as const, db: "ok" as const, redis: "ok" as const };
    }),
});
