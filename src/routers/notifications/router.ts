import { z } from "zod";
import { authedProcedure, router } from "../../trpc";
import { ZNotificationListQuery, ZNotificationRead } from "./schemas";
import { listNotifications } from "./service";

export const notificationsRouter = router({
  list: authedProcedure
    .meta({ openapi: { method: "GET", path: "/notifications", tags: ["notifications"], summary: "The caller's notifications, newest first" } })
    .input(ZNotificationListQuery)
    .output(z.array(ZNotificationRead))
    .query(({ ctx, input }) => listNotifications(ctx.app.db, ctx.user.id, input.limit, input.before_id)),
});
