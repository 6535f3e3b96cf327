import { authedProcedure, router } from "../../trpc";
import { ZGlobalSearchQuery, ZGlobalSearchRead } from "./schemas";
import { globalSearch } from "./service";

export const searchRouter = router({
  global: authedProcedure
    .meta({ openapi: { method: "GET", path: "/search", tags: ["search"], summary: "Search users, the caller's chats and their messages" } })
    .input(ZGlobalSearchQuery)
    .output(ZGlobalSearchRead)
    .query(({ ctx, input }) => globalSearch(ctx.app, ctx.user.id, input)),
});
