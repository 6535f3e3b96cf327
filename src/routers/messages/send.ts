/**
 * Sending (CONTRACT §6). Order matters: membership (404), then an idempotent retry answers the
 * first message before any limit can refuse it, then posting rights (403), the reply (422), the
 * per-user rate limit and the duplicate cooldown (429), and finally one transaction.
 */
import type { App } from "../../app";
import { transact } from "../../db/transact";
import { rateLimited, unprocessable } from "../../errors";
import { enforceRateLimit } from "../../lib/rate-limit";
import { isUnavailableOrWraps } from "../../trpc";
import { sha256Hex } from "../../lib/random";
import { isBlankText } from "../../lib/zod";
import { requireMember } from "../chats/access";
import { isVisibleInChat } from "./access";
import { findByClientId, requireCanPost, writeMessage } from "./compose";
import { messageReadFor } from "./read-model";
import type { TMessageCreateRequest, TMessageRead } from "./schemas";

export async function sendMessage(app: App, senderId: number, input: TMessageCreateRequest): Promise<TMessageRead> {
  const { chat, member } = await requireMember(app.db, input.chat_id, senderId);
  const clientMessageId = input.client_message_id ?? null;
  if (clientMessageId) {
    const first = await findByClientId(app.db, chat.id, senderId, clientMessageId);
    if (first) return messageReadFor(app.db, first);
  }
  await requireCanPost(app.db, chat, member);
  // A caption that shows nothing is no caption.
  const text = input.type === "text" || !isBlankText(input.text ?? "") ? (input.text ?? null) : null;
  const replyTo = input.reply_to_message_id ?? null;
  // A message the sender cannot see (another chat, deleted for all or for them, before their clear
  // point) is refused like a missing one.
  if (replyTo !== null && !(await isVisibleInChat(app.db, replyTo, chat.id, member)))
    throw unprocessable("reply_to_message_id: must be a message of this chat");

  await enforceRateLimit(app, "message", String(senderId), app.config.MESSAGE_RATE_LIMIT_PER_MINUTE, 60, true);
  const cooldown = await claimDuplicateCooldown(app, chat.id, senderId, text, clientMessageId);
  try {
    const result = await transact(app, (tx, events) =>
      writeMessage(app, tx, events, {
        chat,
        senderId,
        type: input.type,
        text,
        clientMessageId,
        replyToMessageId: replyTo,
        forwardedFromMessageId: null,
        attachmentWaveform: null,
      }),
    );
    return result.created ? result.message : messageReadFor(app.db, result.existing);
  } catch (err) {
    // Nothing was sent, so the same text may be sent again at once.
    await cooldown.release();
    throw err;
  }
}

interface CooldownClaim {
  release(): Promise<void>;
}

const NO_CLAIM: CooldownClaim = { release: async () => {} };

/**
 * The same text to the same chat within DUPLICATE_MESSAGE_COOLDOWN_SECONDS answers 429. The broker
 * key remembers which client_message_id claimed it, so a retry of that very message racing its
 * first attempt passes here and meets the first row at the unique index instead of a 429.
 */
async function claimDuplicateCooldown(
  app: App,
  chatId: number,
  senderId: number,
  text: string | null,
  clientMessageId: string | null,
): Promise<CooldownClaim> {
  const seconds = app.config.DUPLICATE_MESSAGE_COOLDOWN_SECONDS;
  if (seconds <= 0 || !text) return NO_CLAIM;
  const key = `dup:${chatId}:${senderId}:${sha256Hex(text)}`;
  const expiresAt = Date.now() + seconds * 1000;
  const value = JSON.stringify({ c: clientMessageId, e: expiresAt });
  let claimed: boolean;
  let raw: string | null = null;
  try {
    claimed = await app.broker.setIfAbsent(key, value, seconds);
    if (!claimed) raw = await app.broker.get(key);
  } catch (err) {
    // Fails open like the message rate limit: a Redis outage must not stop messaging.
    if (!isUnavailableOrWraps(err)) throw err;
    app.log.warn("duplicate cooldown skipped: broker unavailable");
    return NO_CLAIM;
  }
  if (claimed) return { release: () => app.broker.del(key).catch(() => {}) };
  const holder = parseClaim(raw);
  if (holder && clientMessageId !== null && holder.c === clientMessageId) return NO_CLAIM;
  const retryAfter = holder ? Math.max(1, Math.ceil((holder.e - Date.now()) / 1000)) : seconds;
  throw rateLimited(retryAfter);
}

function parseClaim(raw: string | null): { c: string | null; e: number } | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as { c?: unknown; e?: unknown };
    return { c: typeof v.c === "string" ? v.c : null, e: typeof v.e === "number" ? v.e : 0 };
  } catch {
    return null;
  }
}
