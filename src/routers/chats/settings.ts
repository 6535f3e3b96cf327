/**
 * Changes to one chat that are not membership changes: shared ones (title, profile, pinned
 * message) that every member hears about, and the caller's own (clear point, archive, pin-chat,
 * mute) that live on their chat_members row and reach only them.
 */
import { and, eq, sql } from "drizzle-orm";
import type { App } from "../../app";
import { queryRows, type Tx } from "../../db/client";
import { transact } from "../../db/transact";
import { chatMembers, chats } from "../../db/schema";
import { notFound } from "../../errors";
import { requireGroupOrChannel, requireManager, requireMemberForAction, requirePinRights, type MemberRow } from "./access";
import { emitPersonalUpdate, emitSharedUpdate } from "./membership";
import type { TChatNotificationSettingsRead, TChatProfileUpdate, TChatRead } from "./schemas";
import { getChatRead } from "./service";

type ChatUpdate = Partial<Pick<typeof chats.$inferInsert, "title" | "description" | "avatarUrl" | "pinnedMessageId">>;

/** Owner and admins of a group or channel change what every member sees. */
async function updateSharedProfile(app: App, actorId: number, chatId: number, changes: ChatUpdate): Promise<TChatRead> {
  return transact(app, async (tx, events) => {
    const { chat, member } = await requireMemberForAction(tx, chatId, actorId);
    requireGroupOrChannel(chat, "A private chat has no title or profile");
    requireManager(member, "Only the owner and admins can edit the chat");
    if (Object.keys(changes).length > 0) {
      await tx
        .update(chats)
        .set({ ...changes, updatedAt: new Date() })
        .where(eq(chats.id, chatId));
      await emitSharedUpdate(tx, events, chatId);
    }
    return getChatRead(app, tx, actorId, chatId);
  });
}

export function updateTitle(app: App, actorId: number, chatId: number, title: string): Promise<TChatRead> {
  return updateSharedProfile(app, actorId, chatId, { title });
}

export function updateProfile(app: App, actorId: number, chatId: number, input: TChatProfileUpdate): Promise<TChatRead> {
  const changes: ChatUpdate = {};
  if (input.title !== undefined) changes.title = input.title;
  if (input.description !== undefined) changes.description = input.description;
  if (input.avatar_url !== undefined) changes.avatarUrl = input.avatar_url;
  return updateSharedProfile(app, actorId, chatId, changes);
}

/** True when `messageId` is a message of the chat that `member` can still see. */
async function isVisibleMessage(tx: Tx, member: MemberRow, messageId: number): Promise<boolean> {
  const rows = await queryRows<{ one: number }>(
    tx,
    sql`select 1 as one from messages m
        where m.chat_id = ${member.chatId} and m.id = ${messageId} and m.deleted_at is null
          and m.id > ${member.clearedBeforeMessageId}
          and not exists (select 1 from message_hides h where h.chat_id = m.chat_id and h.user_id = ${member.userId} and h.message_id = m.id)`,
  );
  return rows.length > 0;
}

/** Pins (or with null, unpins) a message; one the caller cannot see in this chat is 404. */
export async function pinMessage(app: App, actorId: number, chatId: number, messageId: number | null): Promise<TChatRead> {
  return transact(app, async (tx, events) => {
    const { chat, member } = await requireMemberForAction(tx, chatId, actorId);
    requirePinRights(chat, member);
    if (messageId !== null && !(await isVisibleMessage(tx, member, messageId))) throw notFound("Message not found");
    await tx.update(chats).set({ pinnedMessageId: messageId, updatedAt: new Date() }).where(eq(chats.id, chatId));
    await emitSharedUpdate(tx, events, chatId);
    return getChatRead(app, tx, actorId, chatId);
  });
}

type OwnFlags = Partial<Pick<typeof chatMembers.$inferInsert, "archived" | "pinnedAt" | "muted" | "hidden" | "clearedBeforeMessageId">>;

/** Changes the caller's own row; only the caller hears about it. */
async function updateOwnMembership(
  app: App,
  userId: number,
  chatId: number,
  changesFor: (member: MemberRow, tx: Tx) => Promise<OwnFlags> | OwnFlags,
): Promise<TChatRead> {
  return transact(app, async (tx, events) => {
    const { member } = await requireMemberForAction(tx, chatId, userId);
    const changes = await changesFor(member, tx);
    await tx
      .update(chatMembers)
      .set(changes)
      .where(and(eq(chatMembers.chatId, chatId), eq(chatMembers.userId, userId)));
    const chat = await emitPersonalUpdate(app, tx, events, userId, chatId);
    if (!chat) throw notFound("Chat not found");
    return chat;
  });
}

export const setArchived = (app: App, userId: number, chatId: number, archived: boolean) =>
  updateOwnMembership(app, userId, chatId, () => ({ archived }));

/** Pinning again keeps the original pin time, so the pinned order stays stable. */
export const setChatPinned = (app: App, userId: number, chatId: number, pinned: boolean) =>
  updateOwnMembership(app, userId, chatId, (m) => ({ pinnedAt: pinned ? (m.pinnedAt ?? new Date()) : null }));

export async function setMuted(app: App, userId: number, chatId: number, muted: boolean): Promise<TChatNotificationSettingsRead> {
  await updateOwnMembership(app, userId, chatId, () => ({ muted }));
  return { chat_id: chatId, user_id: userId, muted };
}

/** Everything up to the chat's newest message disappears for the caller only. */
export async function clearHistory(app: App, userId: number, chatId: number): Promise<void> {
  await updateOwnMembership(app, userId, chatId, async (member, tx) => {
    const rows = await queryRows<{ newest: string | number | null }>(tx, sql`select max(id) as newest from messages where chat_id = ${chatId}`);
    const newest = Number(rows[0]?.newest ?? 0);
    return { clearedBeforeMessageId: Math.max(member.clearedBeforeMessageId, newest), hidden: false };
  });
}
