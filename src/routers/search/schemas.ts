import { z } from "zod";
import { zLimit } from "../../lib/zod";
import { ZChatRead } from "../chats/schemas";
import { ZMessageRead, ZSearchQueryText } from "../messages/schemas";
import { ZUserSearchRead } from "../users/schemas";

export const ZGlobalSearchQuery = z.object({
  query: ZSearchQueryText,
  users_limit: zLimit(10),
  chats_limit: zLimit(10),
  messages_limit: zLimit(10),
});
export type TGlobalSearchQuery = z.infer<typeof ZGlobalSearchQuery>;

export const ZGlobalSearchRead = z
  .object({ users: z.array(ZUserSearchRead), chats: z.array(ZChatRead), messages: z.array(ZMessageRead) })
  .meta({ id: "GlobalSearchRead" });
export type TGlobalSearchRead = z.infer<typeof ZGlobalSearchRead>;
