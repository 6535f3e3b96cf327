/**
 * Global search (reference §11): users, the caller's chats and messages in them, each by its own
 * domain's search so every privacy and visibility rule applies unchanged.
 */
import type { App } from "../../app";
import { listChats } from "../chats/service";
import { searchMessages } from "../messages/search";
import { searchUsers } from "../users/service";
import type { TGlobalSearchQuery, TGlobalSearchRead } from "./schemas";

export async function globalSearch(app: App, viewerId: number, input: TGlobalSearchQuery): Promise<TGlobalSearchRead> {
  const users = await searchUsers(app.db, viewerId, input.query, input.users_limit);
  // Archived chats are still the caller's chats: they fill the list after the active ones.
  const active = await listChats(app, viewerId, { query: input.query, limit: input.chats_limit, archived: false });
  const archived =
    active.length < input.chats_limit
      ? await listChats(app, viewerId, { query: input.query, limit: input.chats_limit - active.length, archived: true })
      : [];
  const messages = await searchMessages(app.db, viewerId, { query: input.query, limit: input.messages_limit });
  return { users, chats: [...active, ...archived], messages };
}
