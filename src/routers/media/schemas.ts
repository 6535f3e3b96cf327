import { z } from "zod";
import { ZBigId, ZId, ZTimestamp, zLimit, zNonBlank } from "../../lib/zod";
import { ALLOWED_MIME_TYPES, isAllowedMimeType, type AllowedMimeType } from "../../media/mime";
import { MESSAGE_TYPES } from "../../db/schema";

const ZMimeType = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v): v is AllowedMimeType => isAllowedMimeType(v), `must be one of ${ALLOWED_MIME_TYPES.join(", ")}`)
  .transform((v) => v as AllowedMimeType)
  .meta({ example: "image/jpeg" });

// The configured MAX_UPLOAD_SIZE_BYTES is checked by the service; this bound only keeps the
// number an integer the database can hold.
const ZFileSize = z.number().int("must be an integer").min(1, "must be at least 1 byte").max(Number.MAX_SAFE_INTEGER, "is too large");

export const ZUploadUrlRequest = z
  .object({
    file_name: zNonBlank(255),
    file_type: ZMimeType,
    file_size: ZFileSize,
  })
  .meta({ id: "UploadUrlRequest", example: { file_name: "photo.jpg", file_type: "image/jpeg", file_size: 123456 } });
export type TUploadUrlRequest = z.infer<typeof ZUploadUrlRequest>;

export const ZUploadUrlResponse = z
  .object({
    upload_url: z.string(),
    file_url: z.string(),
    object_key: z.string(),
    expires_in: z.number().int(),
    required_headers: z.record(z.string(), z.string()),
  })
  .meta({ id: "UploadUrlResponse" });
export type TUploadUrlResponse = z.infer<typeof ZUploadUrlResponse>;

export const MAX_WAVEFORM_POINTS = 256;

export const ZWaveform = z
  .array(z.number().int("must be integers").min(0, "must be between 0 and 255").max(255, "must be between 0 and 255"))
  .max(MAX_WAVEFORM_POINTS, `must have at most ${MAX_WAVEFORM_POINTS} points`);

export const ZAttachmentCreateRequest = z
  .object({
    message_id: ZBigId,
    file_url: z.string().min(1, "must not be empty").max(2048, "must be at most 2048 characters"),
    file_type: ZMimeType,
    file_size: ZFileSize,
    waveform_points: ZWaveform.nullish(),
  })
  .meta({
    id: "AttachmentCreateRequest",
    example: { message_id: 100, file_url: "https://files.example.com/bucket/uploads/1/abc.jpg", file_type: "image/jpeg", file_size: 123456, waveform_points: [4, 7, 10, 9, 6] },
  });
export type TAttachmentCreateRequest = z.infer<typeof ZAttachmentCreateRequest>;

export const ZAttachmentRead = z
  .object({
    id: z.number().int(),
    message_id: z.number().int(),
    file_url: z.string(),
    file_type: z.string(),
    file_size: z.number().int(),
    waveform_points: z.array(z.number().int()).nullable(),
  })
  .meta({ id: "AttachmentRead" });
export type TAttachmentRead = z.infer<typeof ZAttachmentRead>;

export const ZChatAttachmentsQuery = z.object({
  chat_id: ZId,
  limit: zLimit(100, 200),
  before_id: ZBigId.optional(),
});
export type TChatAttachmentsQuery = z.infer<typeof ZChatAttachmentsQuery>;

export const ZChatAttachmentRead = z
  .object({
    id: z.number().int(),
    message_id: z.number().int(),
    sender_id: z.number().int(),
    message_type: z.enum(MESSAGE_TYPES),
    message_created_at: ZTimestamp,
    file_url: z.string(),
    file_type: z.string(),
    file_size: z.number().int(),
  })
  .meta({ id: "ChatAttachmentRead" });
export type TChatAttachmentRead = z.infer<typeof ZChatAttachmentRead>;
