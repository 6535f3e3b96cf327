/**
 * Membership changes (CONTRACT §5): add, role (incl. ownership hand-over), remove, leave, delete.
 * Each runs with the chat row locked, so two changes to one chat never interleave (two owners
 * leaving at once, or the last two members leaving together, each see the other's result).
 */
import { and, asc, eq, ne, sql } from "drizzle-orm";
import type { App } from "../../app";
import type { Tx } from "../../db/client";
import { transact } from "../../db/transact";
import { chatMembers, type ChatRole } from "../../db/schema";
import { conflict, notFound, unprocessable } from "../../errors";
import type { EventSink } from "../../realtime/event-log";
import { createNotifications } from "../notifications/service";
import {
  CHAT_NOT_FOUND,
  requireGroupOrChannel,
  requireInvitable,
  requireManager,
  requireMemberForAction,
  requireOwner,
  requireRemoveRights,
  type ChatRow,
  type MemberRow,
} from "./access";
import { deleteChatForAll, deleteMember, emitPersonalUpdate, emitSharedUpdate, hidePrivateChat, insertMembers, lockChat, membersOf, setRole } from "./membership";
import type { TChatMemberRead } from "./schemas";
import { toMemberRead } from "./service";

const MEMBER_NOT_FOUND = "Member not found";
const conflictAlreadyMember = () => conflict("user_id: is already a member of this chat");

async function requireTarget(tx: Tx, chatId: number, userId: number): Promise<MemberRow> {
  const [target] = await membersOf(tx, chatId, [userId]);
  if (!target) throw notFound(MEMBER_NOT_FOUND);
  return target;
}

/**
 * The actor's membership and the locked chat, after the visibility check (404 first). The actor's
 * row is read again under the chat's lock: the one read before it may predate a concurrent
 * hand-over, leave or removal, and acting on that stale role left groups with two owners or none.
 */
async function actorAndLockedChat(tx: Tx, chatId: number, actorId: number): Promise<{ chat: ChatRow; actor: MemberRow }> {
  await requireMemberForAction(tx, chatId, actorId);
  const chat = await lockChat(tx, chatId);
  const [actor] = await membersOf(tx, chatId, [actorId]);
  if (!actor) throw notFound(CHAT_NOT_FOUND);
  return { chat, actor };
}

export async function addMember(app: App, actorId: number, chatId: number, userId: number): Promise<TChatMemberRead> {
  return transact(app, async (tx, events) => {
    const { chat, actor } = await actorAndLockedChat(tx, chatId, actorId);
    requireGroupOrChannel(chat, "Members cannot be added to a private chat");
    requireManager(actor, "Only the owner and admins can add members");
    if ((await membersOf(tx, chatId, [userId])).length > 0) throw conflictAlreadyMember();
    await requireInvitable(tx, actorId, [userId]);
    const [created] = await insertMembers(tx, chat, [{ userId, role: "member" }]);
    if (!created) throw conflictAlreadyMember();
    // The newcomer's own chat_updated first: it subscribes their live sockets to the chat, so the
    // shared one right after reaches them too, as their replay has it.
    await emitPersonalUpdate(app, tx, events, userId, chatId);
    await emitSharedUpdate(tx, events, chatId);
    await createNotifications(tx, events, [{ userId, eventType: "added_to_chat", chatId, messageId: null, senderId: actorId }]);
    return toMemberRead(created);
  });
}


/** Only the owner changes roles; giving "owner" hands ownership over and leaves the old owner admin. */
export async function changeRole(app: App, actorId: number, chatId: number, userId: number, role: ChatRole): Promise<TChatMemberRead> {
  return transact(app, async (tx, events) => {
    const { chat, actor } = await actorAndLockedChat(tx, chatId, actorId);
    requireGroupOrChannel(chat, "A private chat has no roles");
    requireOwner(actor, "Only the owner can change roles");
    const target = await requireTarget(tx, chatId, userId);
    if (target.userId === actorId) throw unprocessable("user_id: the owner's own role changes only by handing ownership to another member");
    const updated = await setRole(tx, chatId, userId, role);
    if (!updated) throw notFound(MEMBER_NOT_FOUND);
    if (role === "owner") {
      await setRole(tx, chatId, actorId, "admin");
      await emitPersonalUpdate(app, tx, events, actorId, chatId);
    }
    await emitSharedUpdate(tx, events, chatId);
    await emitPersonalUpdate(app, tx, events, userId, chatId);
    return toMemberRead(updated);
  });
}

export async function removeMember(app: App, actorId: number, chatId: number, userId: number): Promise<void> {
  await transact(app, async (tx, events) => {
    const { chat, actor } = await actorAndLockedChat(tx, chatId, actorId);
    requireGroupOrChannel(chat, "Members cannot be removed from a private chat");
    requireManager(actor, "Only the owner and admins can remove members");
    const target = await requireTarget(tx, chatId, userId);
    requireRemoveRights(actor, target);
    await deleteMember(tx, chatId, userId);
    await emitSharedUpdate(tx, events, chatId);
    events.toUser(userId, "chat_deleted", { chat_id: chatId });
  });
}

/** Who owns the chat after the owner leaves: the oldest admin, else the oldest member. */
async function successorOf(tx: Tx, chatId: number, leavingId: number): Promise<MemberRow | undefined> {
  const rows = await tx
    .select()
    .from(chatMembers)
    .where(and(eq(chatMembers.chatId, chatId), ne(chatMembers.userId, leavingId)))
    .orderBy(sql`case ${chatMembers.role} when 'admin' then 0 else 1 end`, asc(chatMembers.joinedAt), asc(chatMembers.id))
    .limit(1);
  return rows[0];
}

async function leaveLocked(app: App, tx: Tx, events: EventSink, chat: ChatRow, member: MemberRow): Promise<void> {
  const successor = await successorOf(tx, chat.id, member.userId);
  if (!successor) {
    await deleteChatForAll(tx, events, chat.id);
    return;
  }
  if (member.role === "owner") {
    await setRole(tx, chat.id, successor.userId, "owner");
    await emitPersonalUpdate(app, tx, events, successor.userId, chat.id);
  }
  await deleteMember(tx, chat.id, member.userId);
  await emitSharedUpdate(tx, events, chat.id);
  events.toUser(member.userId, "chat_deleted", { chat_id: chat.id });
}

export async function leaveChat(app: App, userId: number, chatId: number): Promise<void> {
  await transact(app, async (tx, events) => {
    const { chat, actor } = await actorAndLockedChat(tx, chatId, userId);
    if (chat.type === "private") throw unprocessable("A private chat cannot be left; delete it instead");
    await leaveLocked(app, tx, events, chat, actor);
  });
}

/**
 * `for_all`: the owner's for groups and channels, either party's for a private chat. Otherwise the
 * chat leaves the caller's list only: a private chat is hidden (and cleared for them) until a new
 * message arrives; a group or channel is left. The saved chat is simply deleted.
 */
export async function deleteChat(app: App, userId: number, chatId: number, forAll: boolean): Promise<void> {
  await transact(app, async (tx, events) => {
    const { chat, actor } = await actorAndLockedChat(tx, chatId, userId);
    if (chat.isSaved) return deleteChatForAll(tx, events, chatId);
    if (chat.type === "private") {
      if (forAll) return deleteChatForAll(tx, events, chatId);
      await hidePrivateChat(tx, chatId, userId, chat.lastMessageId ?? 0);
      events.toUser(userId, "chat_deleted", { chat_id: chatId });
      return;
    }
    if (forAll) {
      requireOwner(actor, "Only the owner can delete this chat for everyone");
      return deleteChatForAll(tx, events, chatId);
    }
    return leaveLocked(app, tx, events, chat, actor);
  });
}
