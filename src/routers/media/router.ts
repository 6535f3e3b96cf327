import { authedProcedure, router } from "../../trpc";
import { z } from "zod";
import {
  ZAttachmentCreateRequest,
  ZAttachmentRead,
  ZChatAttachmentRead,
  ZChatAttachmentsQuery,
  ZUploadUrlRequest,
  ZUploadUrlResponse,
} from "./schemas";
import { attachFile, createUploadUrl, listChatAttachments } from "./service";

export const mediaRouter = router({
  uploadUrl: authedProcedure
    .meta({ openapi: { method: "POST", path: "/media/upload-url", tags: ["media"], summary: "Presigned upload URL for one file" } })
    .input(ZUploadUrlRequest)
    .output(ZUploadUrlResponse)
    .mutation(({ ctx, input }) => createUploadUrl(ctx.app, ctx.user.id, input)),
  attach: authedProcedure
    .meta({ openapi: { method: "POST", path: "/media/attachments", tags: ["media"], summary: "Attach an uploaded file to a message", errorResponses: { 403: "Not the message's sender", 404: "Message not found" } } })
    .input(ZAttachmentCreateRequest)
    .output(ZAttachmentRead)
    .mutation(({ ctx, input }) => attachFile(ctx.app, ctx.user.id, input)),
  chatAttachments: authedProcedure
    .meta({
      openapi: { method: "GET", path: "/media/chats/{chat_id}/attachments", tags: ["media"], summary: "A chat's attachments, newest first" },
    })
    .input(ZChatAttachmentsQuery)
    .output(z.array(ZChatAttachmentRead))
    .query(({ ctx, input }) => listChatAttachments(ctx.app, ctx.user.id, input)),
});
