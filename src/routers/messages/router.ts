import { z } from "zod";
import { authedProcedure, router } from "../../trpc";
import { forwardMessage, forwardToMany } from "./forward";
import { listReactions, toggleReaction } from "./reactions";
import {
  ZDeleteQuery,
  ZHistoryQuery,
  ZMessageCreateRequest,
  ZMessageForwardBulkRequest,
  ZMessageForwardRequest,
  ZMessageIdParam,
  ZMessageReactionRead,
  ZMessageReactionToggleRequest,
  ZMessageRead,
  ZMessageSearchQuery,
  ZMessageStatusRead,
  ZMessageStatusUpdateRequest,
  ZMessageUpdateRequest,
  ZThreadQuery,
} from "./schemas";
import { searchMessages } from "./search";
import { deleteMessage, editMessage, listHistory, listThread, sendMessage, updateMessageStatus } from "./service";

const tags = ["messages"];

export const messagesRouter = router({
  send: authedProcedure
    .meta({ openapi: { method: "POST", path: "/messages", tags, summary: "Send a message", errorResponses: { 403: "May not post here", 404: "Chat not found", 429: "Rate limit or duplicate cooldown" } }, status: 201 })
    .input(ZMessageCreateRequest)
    .output(ZMessageRead)
    .mutation(({ ctx, input }) => sendMessage(ctx.app, ctx.user.id, input)),
  search: authedProcedure
    .meta({ openapi: { method: "GET", path: "/messages/search", tags, summary: "Search messages in the caller's chats" } })
    .input(ZMessageSearchQuery)
    .output(z.array(ZMessageRead))
    .query(({ ctx, input }) => searchMessages(ctx.app.db, ctx.user.id, input)),
  history: authedProcedure
    .meta({ openapi: { method: "GET", path: "/messages/{chat_id}", tags, summary: "A chat's messages, newest first" } })
    .input(ZHistoryQuery)
    .output(z.array(ZMessageRead))
    .query(({ ctx, input }) => listHistory(ctx.app.db, ctx.user.id, input)),
  thread: authedProcedure
    .meta({ openapi: { method: "GET", path: "/messages/{message_id}/thread", tags, summary: "A message and its replies, breadth first" } })
    .input(ZThreadQuery)
    .output(z.array(ZMessageRead))
    .query(({ ctx, input }) => listThread(ctx.app.db, ctx.user.id, input)),
  edit: authedProcedure
    .meta({ openapi: { method: "PUT", path: "/messages/{message_id}", tags, summary: "Edit a message's text" } })
    .input(ZMessageUpdateRequest)
    .output(ZMessageRead)
    .mutation(({ ctx, input }) => editMessage(ctx.app, ctx.user.id, input)),
  delete: authedProcedure
    .meta({ openapi: { method: "DELETE", path: "/messages/{message_id}", tags, summary: "Delete a message for the caller or for everyone" }, status: 204 })
    .input(ZDeleteQuery)
    .output(z.void())
    .mutation(({ ctx, input }) => deleteMessage(ctx.app, ctx.user.id, input)),
  status: authedProcedure
    .meta({ openapi: { method: "POST", path: "/messages/status", tags, summary: "Mark messages delivered or read", errorResponses: { 404: "Chat or message not found" } } })
    .input(ZMessageStatusUpdateRequest)
    .output(ZMessageStatusRead)
    .mutation(({ ctx, input }) => updateMessageStatus(ctx.app, ctx.user.id, input)),
  forward: authedProcedure
    .meta({ openapi: { method: "POST", path: "/messages/{message_id}/forward", tags, summary: "Forward a message to a chat" }, status: 201 })
    .input(ZMessageForwardRequest)
    .output(ZMessageRead)
    .mutation(({ ctx, input }) => forwardMessage(ctx.app, ctx.user.id, input)),
  forwardBulk: authedProcedure
    .meta({ openapi: { method: "POST", path: "/messages/{message_id}/forward-bulk", tags, summary: "Forward a message to several chats, all or nothing" }, status: 201 })
    .input(ZMessageForwardBulkRequest)
    .output(z.array(ZMessageRead))
    .mutation(({ ctx, input }) => forwardToMany(ctx.app, ctx.user.id, input.message_id, input.target_chat_ids)),
  reactions: authedProcedure
    .meta({ openapi: { method: "GET", path: "/messages/{message_id}/reactions", tags, summary: "Reactions on a message" } })
    .input(ZMessageIdParam)
    .output(z.array(ZMessageReactionRead))
    .query(({ ctx, input }) => listReactions(ctx.app.db, ctx.user.id, input.message_id)),
  toggleReaction: authedProcedure
    .meta({ openapi: { method: "POST", path: "/messages/{message_id}/reactions/toggle", tags, summary: "Add or remove the caller's reaction" } })
    .input(ZMessageReactionToggleRequest)
    .output(z.array(ZMessageReactionRead))
    .mutation(({ ctx, input }) => toggleReaction(ctx.app, ctx.user.id, input)),
});
