import { z } from "zod";
import { MESSAGE_TYPES } from "../../db/schema";
import { isBlankText, ZBigId, ZId, ZTimestamp, zLimit, zNonBlank } from "../../lib/zod";

export const MAX_TEXT_LENGTH = 4096;
export const MAX_BULK_FORWARD_TARGETS = 20;

export const ZMessageType = z.enum(MESSAGE_TYPES).meta({ id: "MessageType" });
export const ZDeliveryStatus = z.enum(["sent", "delivered", "read"]);

export const ZMessageRead = z
  .object({
    id: z.number().int(),
    chat_id: z.number().int(),
    sender_id: z.number().int(),
    reply_to_message_id: z.number().int().nullable(),
    forwarded_from_message_id: z.number().int().nullable(),
    type: ZMessageType,
    text: z.string().nullable(),
    delivery_status: ZDeliveryStatus,
    attachment_waveform: z.array(z.number().int()).nullable(),
    created_at: ZTimestamp,
    updated_at: ZTimestamp,
  })
  .meta({ id: "MessageRead" });
export type TMessageRead = z.infer<typeof ZMessageRead>;

export const ZMessageCreateRequest = z
  .object({
    chat_id: ZId,
    type: ZMessageType.default("text"),
    text: z.string().max(MAX_TEXT_LENGTH, `must be at most ${MAX_TEXT_LENGTH} characters`).nullish(),
    client_message_id: z.string().min(1, "must not be empty").max(64, "must be at most 64 characters").nullish(),
    reply_to_message_id: ZBigId.nullish(),
  })
  .superRefine((m, ctx) => {
    // Text messages need text; other types may carry a caption (CONTRACT §6).
    if (m.type === "text" && (m.text == null || isBlankText(m.text)))
      ctx.addIssue({ code: "custom", path: ["text"], message: "must not be empty" });
  })
  .meta({
    id: "MessageCreateRequest",
    example: { chat_id: 10, type: "text", text: "Hello", client_message_id: "client-msg-0001", reply_to_message_id: null },
  });
export type TMessageCreateRequest = z.infer<typeof ZMessageCreateRequest>;

export const ZMessageUpdateRequest = z
  .object({ message_id: ZBigId, text: zNonBlank(MAX_TEXT_LENGTH) })
  .meta({ id: "MessageUpdateRequest", example: { message_id: 100, text: "Edited text" } });

export const ZHistoryQuery = z.object({ chat_id: ZId, limit: zLimit(50), before_id: ZBigId.optional() });
export const ZThreadQuery = z.object({ message_id: ZBigId, limit: zLimit(100, 200) });
export const ZMessageIdParam = z.object({ message_id: ZBigId });
export const ZDeleteQuery = z.object({ message_id: ZBigId, for_all: z.boolean().default(false) });

export const ZSearchQueryText = z
  .string()
  .max(256, "must be at most 256 characters")
  .transform((s) => s.trim())
  .refine((s) => !isBlankText(s), "must not be empty");
export const ZMessageSearchQuery = z.object({ query: ZSearchQueryText, chat_id: ZId.optional(), limit: zLimit(50) });

export const ZMessageStatusUpdateRequest = z
  .object({ chat_id: ZId, message_id: ZBigId, status: z.enum(["message_delivered", "message_read"]) })
  .meta({ id: "MessageStatusUpdateRequest", example: { chat_id: 10, message_id: 100, status: "message_read" } });
export type TMessageStatusUpdateRequest = z.infer<typeof ZMessageStatusUpdateRequest>;

export const ZMessageStatusRead = z
  .object({ last_delivered_message_id: z.number().int(), last_read_message_id: z.number().int() })
  .meta({ id: "MessageStatusRead" });
export type TMessageStatusRead = z.infer<typeof ZMessageStatusRead>;

export const ZMessageForwardRequest = z
  .object({ message_id: ZBigId, target_chat_id: ZId })
  .meta({ id: "MessageForwardRequest", example: { message_id: 100, target_chat_id: 20 } });

export const ZMessageForwardBulkRequest = z
  .object({
    message_id: ZBigId,
    target_chat_ids: z
      .array(ZId)
      .min(1, "must hold at least 1 chat")
      .max(MAX_BULK_FORWARD_TARGETS, `must hold at most ${MAX_BULK_FORWARD_TARGETS} chats`)
      .refine((ids) => new Set(ids).size === ids.length, "must not repeat a chat"),
  })
  .meta({ id: "MessageForwardBulkRequest", example: { message_id: 100, target_chat_ids: [20, 21] } });

/** 1..32 bytes of UTF-8 without whitespace (CONTRACT §6). */
export const ZEmoji = z
  .string()
  .refine((s) => {
    const bytes = new TextEncoder().encode(s).length;
    return bytes >= 1 && bytes <= 32;
  }, "must be 1-32 bytes")
  .refine((s) => !/\s/u.test(s), "must not contain whitespace");

export const ZMessageReactionToggleRequest = z
  .object({ message_id: ZBigId, emoji: ZEmoji })
  .meta({ id: "MessageReactionToggleRequest", example: { message_id: 100, emoji: "👍" } });

export const ZMessageReactionRead = z
  .object({ emoji: z.string(), count: z.number().int(), reacted: z.boolean() })
  .meta({ id: "MessageReactionRead" });
export type TMessageReactionRead = z.infer<typeof ZMessageReactionRead>;
