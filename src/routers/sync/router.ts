import { authedProcedure, router } from "../../trpc";
import { ZSyncQuery, ZSyncRead } from "./schemas";
import { syncEvents } from "./service";

export const syncRouter = router({
  get: authedProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/sync",
        tags: ["sync"],
        summary: "Durable events after `since` that the caller may see, in order (410 when older than retention)",
        errorResponses: { 410: "Events since this position are no longer kept, or the position is beyond the newest event: reload your state" },
      },
    })
    .input(ZSyncQuery)
    .output(ZSyncRead)
    .query(({ ctx, input }) => syncEvents(ctx.app, ctx.user.id, input)),
});
