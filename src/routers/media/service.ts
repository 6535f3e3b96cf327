/**
 * Media rules (reference §9, CONTRACT §7): upload URLs for whitelisted types within the size
 * limit, attachments only by the message's sender and only for objects that exist in our
 * storage, and the chat's attachment list for members. Storage that does not answer is a 503
 * and nothing is written.
 */
import { and, desc, eq, lt, type SQL } from "drizzle-orm";
import type { App } from "../../app";
import type { DbOrTx } from "../../db/client";
import { attachments, messages } from "../../db/schema";
import { transact } from "../../db/transact";
import { AppError, forbidden, unprocessable } from "../../errors";
import { iso } from "../../lib/time";
import { newObjectKey, parseObjectKey } from "../../media/object-key";
import type { Storage } from "../../media/storage";
import { StorageUnavailableError } from "../../media/storage-error";
import { requireMember } from "../chats/access";
import { requireVisibleMessage, visibleTo } from "../messages/access";
import { requireCanPost } from "../messages/compose";
import { messageEvents } from "../messages/events";
import { messageReadFor } from "../messages/read-model";
import type {
  TAttachmentCreateRequest,
  TAttachmentRead,
  TChatAttachmentRead,
  TChatAttachmentsQuery,
  TUploadUrlRequest,
  TUploadUrlResponse,
} from "./schemas";

export const UPLOAD_URL_TTL_SECONDS = 900;
/** A message is one bubble; a handful of files is an album, more is a folder. */
export const MAX_ATTACHMENTS_PER_MESSAGE = 10;

const fileUrlOf = (storage: Storage, objectKey: string) => `${storage.publicBase}/${objectKey}`;

/** Runs a storage call; an unreachable storage becomes 503 {detail} (logged, never the cause). */
async function withStorage<T>(app: App, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof StorageUnavailableError)) throw err;
    const cause = err.cause instanceof Error ? `${err.cause.name}: ${err.cause.message}` : String(err.cause);
    app.log.warn("storage unavailable", { storage: app.storage.kind, error: err.message, cause });
    throw new AppError("UNAVAILABLE", "Storage is unavailable, try again later");
  }
}

export async function createUploadUrl(app: App, userId: number, input: TUploadUrlRequest): Promise<TUploadUrlResponse> {
  const max = app.config.MAX_UPLOAD_SIZE_BYTES;
  if (input.file_size > max) throw unprocessable(`file_size: must be at most ${max} bytes`);
  await withStorage(app, () => app.storage.ensureAvailable());
  const objectKey = newObjectKey(userId, input.file_type);
  const put = await withStorage(app, () => app.storage.presignPut(objectKey, input.file_type, input.file_size, UPLOAD_URL_TTL_SECONDS));
  return {
    upload_url: put.url,
    file_url: fileUrlOf(app.storage, objectKey),
    object_key: objectKey,
    expires_in: UPLOAD_URL_TTL_SECONDS,
    required_headers: put.headers,
  };
}

/** The object key a file_url names, when it lies under our public base and is one of ours. */
function objectKeyOf(storage: Storage, fileUrl: string): ReturnType<typeof parseObjectKey> {
  const prefix = `${storage.publicBase}/`;
  return fileUrl.startsWith(prefix) ? parseObjectKey(fileUrl.slice(prefix.length)) : null;
}

export async function attachFile(app: App, userId: number, input: TAttachmentCreateRequest): Promise<TAttachmentRead> {
  const { message, chat, member } = await requireVisibleMessage(app.db, input.message_id, userId);
  if (message.senderId !== userId) throw forbidden("Only the sender can attach files to this message");
  // Attaching puts new content in front of the chat: the right to post now, as for a new message.
  await requireCanPost(app.db, chat, member);

  const object = objectKeyOf(app.storage, input.file_url);
  if (!object) throw unprocessable(`file_url: must be a file uploaded to ${app.storage.publicBase}/uploads/`);
  if (object.ownerId !== userId) throw unprocessable("file_url: must be a file you uploaded");
  if (object.contentType !== input.file_type) throw unprocessable("file_type: does not match the uploaded file");
  const stored = await withStorage(app, () => app.storage.head(object.key));
  if (!stored) throw unprocessable("file_url: no file has been uploaded there");
  if (stored.size !== input.file_size) throw unprocessable(`file_size: does not match the uploaded file (${stored.size} bytes)`);

  const chatId = message.chatId;
  const waveform = input.waveform_points ?? null;
  return transact(app, async (tx, events) => {
    // Locks the message so concurrent attaches count each other and a concurrent delete waits.
    const [locked] = await tx
      .select({ deletedAt: messages.deletedAt })
      .from(messages)
      .where(and(eq(messages.chatId, chatId), eq(messages.id, message.id)))
      .for("update");
    if (!locked || locked.deletedAt) throw new AppError("NOT_FOUND", "Message not found");
    const existing = await tx
      .select()
      .from(attachments)
      .where(and(eq(attachments.chatId, chatId), eq(attachments.messageId, message.id)));
    const same = existing.find((a) => a.objectKey === object.key);
    if (same) return toAttachmentRead(app.storage, same);
    if (existing.length >= MAX_ATTACHMENTS_PER_MESSAGE)
      throw unprocessable(`message_id: a message carries at most ${MAX_ATTACHMENTS_PER_MESSAGE} attachments`);

    const [row] = await tx
      .insert(attachments)
      .values({
        chatId,
        messageId: message.id,
        uploaderId: userId,
        fileUrl: input.file_url,
        objectKey: object.key,
        fileType: input.file_type,
        fileSize: input.file_size,
        waveformPoints: waveform,
      })
      .returning();
    if (!row) throw new Error("attachment insert returned nothing");
    const [updated] = waveform
      ? await tx
          .update(messages)
          .set({ attachmentWaveform: waveform })
          .where(and(eq(messages.chatId, chatId), eq(messages.id, message.id)))
          .returning()
      : await tx
          .select()
          .from(messages)
          .where(and(eq(messages.chatId, chatId), eq(messages.id, message.id)));
    if (updated) messageEvents.updated(events, await messageReadFor(tx, updated));
    return toAttachmentRead(app.storage, row);
  });
}

function toAttachmentRead(storage: Storage, row: typeof attachments.$inferSelect): TAttachmentRead {
  return {
    id: row.id,
    message_id: row.messageId,
    file_url: fileUrlOf(storage, row.objectKey),
    file_type: row.fileType,
    file_size: row.fileSize,
    waveform_points: row.waveformPoints ?? null,
  };
}

/** Newest first; `before_id` continues below an attachment id. Only what the caller can see. */
export async function listChatAttachments(app: App, userId: number, input: TChatAttachmentsQuery): Promise<TChatAttachmentRead[]> {
  const { member } = await requireMember(app.db, input.chat_id, userId);
  return queryChatAttachments(app.db, app.storage, member, input);
}

async function queryChatAttachments(
  db: DbOrTx,
  storage: Storage,
  member: Parameters<typeof visibleTo>[0],
  input: TChatAttachmentsQuery,
): Promise<TChatAttachmentRead[]> {
  const conditions: (SQL | undefined)[] = [eq(attachments.chatId, input.chat_id), visibleTo(member)];
  if (input.before_id !== undefined) conditions.push(lt(attachments.id, input.before_id));
  const rows = await db
    .select({ attachment: attachments, senderId: messages.senderId, type: messages.type, createdAt: messages.createdAt })
    .from(attachments)
    .innerJoin(messages, and(eq(messages.chatId, attachments.chatId), eq(messages.id, attachments.messageId)))
    .where(and(...conditions))
    .orderBy(desc(attachments.id))
    .limit(input.limit);
  return rows.map((r) => ({
    id: r.attachment.id,
    message_id: r.attachment.messageId,
    sender_id: r.senderId,
    message_type: r.type,
    message_created_at: iso(r.createdAt),
    file_url: fileUrlOf(storage, r.attachment.objectKey),
    file_type: r.attachment.fileType,
    file_size: r.attachment.fileSize,
  }));
}

