import { createCallerFactory, router } from "../trpc";
import { authRouter } from "./auth/router";
import { chatsRouter } from "./chats/router";
import { healthRouter } from "./health/router";
import { mediaRouter } from "./media/router";
import { messagesRouter } from "./messages/router";
import { notificationsRouter } from "./notifications/router";
import { searchRouter } from "./search/router";
import { syncRouter } from "./sync/router";
import { usersRouter } from "./users/router";

export const appRouter = router({
  health: healthRouter,
  auth: authRouter,
  users: usersRouter,
  chats: chatsRouter,
  messages: messagesRouter,
  media: mediaRouter,
  notifications: notificationsRouter,
  search: searchRouter,
  sync: syncRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
