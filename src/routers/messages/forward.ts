/**
 * Forwarding (CONTRACT §6): the caller must see the source (404) and be able to post in every
 * target (404 not a member, 403 no rights). Every target is checked before anything is written, and
 * all copies are written in one transaction: one forbidden target means nothing is created.
 *
 * A copy carries the source's attachments: new rows in the target chat naming the same stored
 * objects (objects are never deleted, so sharing them is safe), so a forwarded file or voice note is
 * not an empty message there.
 */
import { and, asc, eq } from "drizzle-orm";
import { attachments } from "../../db/schema";
import type { App } from "../../app";
import { transact } from "../../db/transact";
import { requireMember, type ChatRow } from "../chats/access";
import { enforceRateLimit } from "../../lib/rate-limit";
import { requireVisibleMessage } from "./access";
import { requireCanPost, writeMessage } from "./compose";
import type { TMessageRead } from "./schemas";

export async function forwardMessage(app: App, userId: number, input: { message_id: number; target_chat_id: number }): Promise<TMessageRead> {
  const [copy] = await forwardToMany(app, userId, input.message_id, [input.target_chat_id]);
  if (!copy) throw new Error("unreachable: one target, one copy");
  return copy;
}

export async function forwardToMany(app: App, userId: number, messageId: number, targetChatIds: number[]): Promise<TMessageRead[]> {
  const { message: source } = await requireVisibleMessage(app.db, messageId, userId);
  const targets: ChatRow[] = [];
  for (const chatId of targetChatIds) {
    const { chat, member } = await requireMember(app.db, chatId, userId);
    await requireCanPost(app.db, chat, member);
    targets.push(chat);
  }
  await enforceRateLimit(app, "message", String(userId), app.config.MESSAGE_RATE_LIMIT_PER_MINUTE, 60, true);
  return transact(app, async (tx, events) => {
    // Read once for every target; most messages have none, and then nothing more is written.
    const files = await tx
      .select()
      .from(attachments)
      .where(and(eq(attachments.chatId, source.chatId), eq(attachments.messageId, source.id)))
      .orderBy(asc(attachments.id));
    const copies: TMessageRead[] = [];
    for (const chat of targets) {
      const result = await writeMessage(app, tx, events, {
        chat,
        senderId: userId,
        type: source.type,
        text: source.text,
        clientMessageId: null,
        replyToMessageId: null,
        forwardedFromMessageId: source.id,
        attachmentWaveform: source.attachmentWaveform,
      });
      if (!result.created) throw new Error("unreachable: forwards carry no client_message_id");
      if (files.length > 0)
        await tx.insert(attachments).values(files.map(({ id: _id, createdAt: _at, ...file }) => ({ ...file, chatId: chat.id, messageId: result.message.id })));
      copies.push(result.message);
    }
    return copies;
  });
}
