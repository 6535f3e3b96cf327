/**
 * How chats come to be and how people get in: create (CONTRACT §5 type rules), the saved chat,
 * joining a public chat, invite links and joining by one.
 *
 * Private pairs and saved chats are unique through chats.unique_key, so concurrent creations race
 * to one row: the loser's insert does nothing and it answers the winner's chat.
 */
import { and, eq, sql } from "drizzle-orm";
import type { App } from "../../app";
import type { Tx } from "../../db/client";
import { transact } from "../../db/transact";
import { chatMembers, chatReceipts, chats } from "../../db/schema";
import { conflict, notFound, unprocessable } from "../../errors";
import { randomString, randomToken } from "../../lib/random";
import type { EventSink } from "../../realtime/event-log";
import { createNotifications } from "../notifications/service";
import {
  CHAT_NOT_FOUND,
  isDiscoverable,
  requireCanStartPrivate,
  requireGroupOrChannel,
  requireInvitable,
  requireManager,
  requireMember,
  requireMemberForAction,
  type ChatRow,
} from "./access";
import { emitPersonalUpdate, emitSharedUpdate, insertMembers, LOG_POSITION, lockChat } from "./membership";
import { loadChatReads } from "./read-model";
import { HANDLE_PATTERN, type TChatCreateRequest, type TChatInviteLinkRead, type TChatRead } from "./schemas";
import { isBlankText } from "../../lib/zod";

const privateKey = (a: number, b: number) => `p:${Math.min(a, b)}:${Math.max(a, b)}`;
const savedKey = (userId: number) => `s:${userId}`;

async function chatByUniqueKey(tx: Tx, key: string): Promise<ChatRow | undefined> {
  const rows = await tx.select().from(chats).where(eq(chats.uniqueKey, key)).limit(1);
  return rows[0];
}

/**
 * A new chat row (none when its unique key or handle is taken) with its receipts row. The receipts
 * row is made here, while no one else can hold the chat, so a first read mark updates it rather
 * than inserting it: that insert's foreign-key check shares the chat row's lock, and mixed with the
 * sends' row locks it made PostgreSQL deadlocks (sends racing a new group's first read marks).
 */
async function insertChat(tx: Tx, values: typeof chats.$inferInsert): Promise<ChatRow | undefined> {
  const [chat] = await tx.insert(chats).values(values).onConflictDoNothing().returning();
  if (chat) await tx.insert(chatReceipts).values({ chatId: chat.id });
  return chat;
}

async function readOrThrow(app: App, tx: Tx, viewerId: number, chatId: number): Promise<TChatRead> {
  const [chat] = await loadChatReads(app, tx, viewerId, [chatId], { includeNonMember: true });
  if (!chat) throw notFound(CHAT_NOT_FOUND);
  return chat;
}

/** Tells each new member about the chat, each with their own ChatRead. */
async function announceToMembers(app: App, tx: Tx, events: EventSink, chatId: number, userIds: number[]): Promise<void> {
  for (const userId of userIds) await emitPersonalUpdate(app, tx, events, userId, chatId);
}

export async function createChat(app: App, callerId: number, input: TChatCreateRequest): Promise<TChatRead> {
  return input.type === "private" ? createPrivateChat(app, callerId, input) : createGroupOrChannel(app, callerId, input);
}

async function createPrivateChat(app: App, callerId: number, input: TChatCreateRequest): Promise<TChatRead> {
  if (input.is_public) throw unprocessable("is_public: a private chat cannot be public");
  const targets = [...new Set(input.member_ids)];
  const targetId = targets[0];
  if (targets.length !== 1 || targetId === undefined) throw unprocessable("member_ids: a private chat needs exactly one other user");
  if (targetId === callerId) throw unprocessable("member_ids: a private chat needs another user than yourself");
  const key = privateKey(callerId, targetId);
  return transact(app, async (tx, events) => {
    const existing = await chatByUniqueKey(tx, key);
    if (existing) return reopenPrivate(app, tx, events, callerId, existing.id);
    await requireCanStartPrivate(tx, callerId, targetId);
    const chat = await insertChat(tx, { publicId: randomString(24), type: "private", uniqueKey: key });
    if (!chat) {
      const winner = await chatByUniqueKey(tx, key);
      if (!winner) throw new Error("private chat vanished after a unique-key conflict");
      return readOrThrow(app, tx, callerId, winner.id);
    }
    await insertMembers(tx, chat, [
      { userId: callerId, role: "member" },
      { userId: targetId, role: "member" },
    ]);
    await announceToMembers(app, tx, events, chat.id, [callerId, targetId]);
    return readOrThrow(app, tx, callerId, chat.id);
  });
}

/** Asking again for a private chat the caller had deleted "for me" brings it back to their list. */
async function reopenPrivate(app: App, tx: Tx, events: EventSink, callerId: number, chatId: number): Promise<TChatRead> {
  const reopened = await tx
    .update(chatMembers)
    .set({ hidden: false, joinedSeq: LOG_POSITION })
    .where(and(eq(chatMembers.chatId, chatId), eq(chatMembers.userId, callerId), eq(chatMembers.hidden, true)))
    .returning({ chatId: chatMembers.chatId });
  if (reopened.length > 0) await emitPersonalUpdate(app, tx, events, callerId, chatId);
  return readOrThrow(app, tx, callerId, chatId);
}

async function createGroupOrChannel(app: App, callerId: number, input: TChatCreateRequest): Promise<TChatRead> {
  const title = input.title && !isBlankText(input.title) ? input.title : null;
  if (title === null) throw unprocessable("title: is required for groups and channels");
  let handle: string | null = null;
  if (input.is_public) {
    if (!input.handle) throw unprocessable("handle: is required for a public chat");
    if (!HANDLE_PATTERN.test(input.handle)) throw unprocessable("handle: must be 4-32 lower-case letters, digits or underscores");
    handle = input.handle;
  }
  const others = [...new Set(input.member_ids)].filter((id) => id !== callerId);
  return transact(app, async (tx, events) => {
    await requireInvitable(tx, callerId, others);
    const chat = await insertChat(tx, { publicId: randomString(24), type: input.type, title, handle, description: input.description ?? null, isPublic: input.is_public });
    // public_id collisions are out of reach (36^24); a conflict here is the handle.
    if (!chat) throw conflict("handle: is already taken");
    await insertMembers(tx, chat, [{ userId: callerId, role: "owner" }, ...others.map((userId) => ({ userId, role: "member" as const }))]);
    await announceToMembers(app, tx, events, chat.id, [callerId, ...others]);
    await createNotifications(
      tx,
      events,
      others.map((userId) => ({ userId, eventType: "added_to_chat", chatId: chat.id, messageId: null, senderId: callerId })),
    );
    return readOrThrow(app, tx, callerId, chat.id);
  });
}

/** The caller's saved-messages chat, created on first use. */
export async function getSavedChat(app: App, userId: number): Promise<TChatRead> {
  const key = savedKey(userId);
  return transact(app, async (tx, events) => {
    const existing = await chatByUniqueKey(tx, key);
    if (existing) return readOrThrow(app, tx, userId, existing.id);
    const chat = await insertChat(tx, { publicId: randomString(24), type: "private", isSaved: true, uniqueKey: key });
    if (!chat) {
      const winner = await chatByUniqueKey(tx, key);
      if (!winner) throw new Error("saved chat vanished after a unique-key conflict");
      return readOrThrow(app, tx, userId, winner.id);
    }
    await insertMembers(tx, chat, [{ userId, role: "owner" }]);
    await announceToMembers(app, tx, events, chat.id, [userId]);
    return readOrThrow(app, tx, userId, chat.id);
  });
}

/** Adds the caller to `chat` as a plain member; a member already is left as they are. */
async function joinLocked(app: App, tx: Tx, events: EventSink, chat: ChatRow, userId: number): Promise<TChatRead> {
  const created = await insertMembers(tx, chat, [{ userId, role: "member" }]);
  if (created.length > 0) {
    // Their own chat_updated first, so their live sockets get the shared one too (see addMember).
    await emitPersonalUpdate(app, tx, events, userId, chat.id);
    await emitSharedUpdate(tx, events, chat.id);
  }
  return readOrThrow(app, tx, userId, chat.id);
}

/** Public groups and channels only; anything else is 404 as if it did not exist. */
export async function joinPublicChat(app: App, userId: number, chatId: number): Promise<TChatRead> {
  return transact(app, async (tx, events) => {
    const chat = await lockChat(tx, chatId);
    if (!isDiscoverable(chat)) {
      // A member of a non-public chat may "join" it again: a no-op answering the chat.
      await requireMember(tx, chatId, userId);
      return readOrThrow(app, tx, userId, chatId);
    }
    return joinLocked(app, tx, events, chat, userId);
  });
}

export async function joinByInvite(app: App, userId: number, token: string): Promise<TChatRead> {
  return transact(app, async (tx, events) => {
    const rows = await tx.select({ id: chats.id }).from(chats).where(eq(chats.inviteToken, token)).limit(1);
    const found = rows[0];
    if (!found) throw notFound("Invite link not found");
    const chat = await lockChat(tx, found.id);
    return joinLocked(app, tx, events, chat, userId);
  });
}

/** The chat's current invite token, created on first call (owner and admins of groups and channels). */
export async function getInviteLink(app: App, userId: number, chatId: number): Promise<TChatInviteLinkRead> {
  const { chat, member } = await requireMemberForAction(app.db, chatId, userId);
  requireGroupOrChannel(chat, "Invite links exist for groups and channels only");
  requireManager(member, "Only the owner and admins can manage invite links");
  let token = chat.inviteToken;
  if (!token) {
    // coalesce under the row lock: two first calls at once both answer the token that stuck.
    const [row] = await app.db
      .update(chats)
      .set({ inviteToken: sql`coalesce(${chats.inviteToken}, ${randomToken(192)})` })
      .where(eq(chats.id, chatId))
      .returning({ token: chats.inviteToken });
    token = row?.token ?? null;
  }
  if (!token) throw notFound(CHAT_NOT_FOUND);
  return { chat_id: chatId, token, invite_url: `${app.config.FRONTEND_URL}/join?token=${encodeURIComponent(token)}` };
}
