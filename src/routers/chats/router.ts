import { z } from "zod";
import { ZNoInput } from "../../lib/zod";
import { authedProcedure, router } from "../../trpc";
import { createChat, getInviteLink, getSavedChat, joinByInvite, joinPublicChat } from "./create";
import { addMember, changeRole, deleteChat, leaveChat, removeMember } from "./members";
import {
  ZChatCreateRequest,
  ZChatDeleteInput,
  ZChatDetailRead,
  ZChatDiscoverQuery,
  ZChatDiscoverRead,
  ZChatIdInput,
  ZChatInviteLinkRead,
  ZChatListQuery,
  ZChatMemberAdd,
  ZChatMemberRead,
  ZChatMemberRoleUpdate,
  ZChatMemberTarget,
  ZChatMuteUpdate,
  ZChatNotificationSettingsRead,
  ZChatPinMessage,
  ZChatProfileUpdate,
  ZChatRead,
  ZChatTitleUpdate,
  ZJoinByInvite,
} from "./schemas";
import { discoverChats, getChatDetail, getNotificationSettings, listChats, listMembers } from "./service";
import { clearHistory, pinMessage, setArchived, setChatPinned, setMuted, updateProfile, updateTitle } from "./settings";

const tags = ["chats"];

export const chatsRouter = router({
  list: authedProcedure
    .meta({ openapi: { method: "GET", path: "/chats", tags, summary: "The caller's chats: pinned first, then by last activity" } })
    .input(ZChatListQuery)
    .output(z.array(ZChatRead))
    .query(({ ctx, input }) => listChats(ctx.app, ctx.user.id, input)),
  saved: authedProcedure
    .meta({ openapi: { method: "GET", path: "/chats/saved", tags, summary: "The caller's saved-messages chat (created on first call)" } })
    .input(ZNoInput)
    .output(ZChatRead)
    .query(({ ctx }) => getSavedChat(ctx.app, ctx.user.id)),
  discover: authedProcedure
    .meta({ openapi: { method: "GET", path: "/chats/discover", tags, summary: "Public groups and channels by title or handle" } })
    .input(ZChatDiscoverQuery)
    .output(z.array(ZChatDiscoverRead))
    .query(({ ctx, input }) => discoverChats(ctx.app, ctx.user.id, input.query, input.limit)),
  create: authedProcedure
    .meta({ openapi: { method: "POST", path: "/chats", tags, summary: "Create a chat (an existing private pair answers that chat)", errorResponses: { 403: "A member's privacy refuses the invitation", 404: "A member does not exist", 409: "Handle already taken" } } })
    .input(ZChatCreateRequest)
    .output(ZChatRead)
    .mutation(({ ctx, input }) => createChat(ctx.app, ctx.user.id, input)),
  join: authedProcedure
    .meta({ openapi: { method: "POST", path: "/chats/{chat_id}/join", tags, summary: "Join a public group or channel" } })
    .input(ZChatIdInput)
    .output(ZChatRead)
    .mutation(({ ctx, input }) => joinPublicChat(ctx.app, ctx.user.id, input.chat_id)),
  joinByInvite: authedProcedure
    .meta({ openapi: { method: "POST", path: "/chats/join-by-invite", tags, summary: "Join a chat with an invite token", errorResponses: { 404: "Unknown invite token" } } })
    .input(ZJoinByInvite)
    .output(ZChatRead)
    .mutation(({ ctx, input }) => joinByInvite(ctx.app, ctx.user.id, input.token)),
  get: authedProcedure
    .meta({ openapi: { method: "GET", path: "/chats/{chat_id}", tags, summary: "A chat with its members" } })
    .input(ZChatIdInput)
    .output(ZChatDetailRead)
    .query(({ ctx, input }) => getChatDetail(ctx.app, ctx.user.id, input.chat_id)),
  updateTitle: authedProcedure
    .meta({ openapi: { method: "PATCH", path: "/chats/{chat_id}/title", tags, summary: "Rename a group or channel" } })
    .input(ZChatTitleUpdate)
    .output(ZChatRead)
    .mutation(({ ctx, input }) => updateTitle(ctx.app, ctx.user.id, input.chat_id, input.title)),
  updateProfile: authedProcedure
    .meta({ openapi: { method: "PATCH", path: "/chats/{chat_id}/profile", tags, summary: "Edit a group's or channel's title, description, avatar" } })
    .input(ZChatProfileUpdate)
    .output(ZChatRead)
    .mutation(({ ctx, input }) => updateProfile(ctx.app, ctx.user.id, input.chat_id, input)),
  members: authedProcedure
    .meta({ openapi: { method: "GET", path: "/chats/{chat_id}/members", tags, summary: "Members: owner, admins, then members" } })
    .input(ZChatIdInput)
    .output(z.array(ZChatMemberRead))
    .query(({ ctx, input }) => listMembers(ctx.app, ctx.user.id, input.chat_id)),
  addMember: authedProcedure
    .meta({ openapi: { method: "POST", path: "/chats/{chat_id}/members", tags, summary: "Add a member (owner and admins)", errorResponses: { 403: "Not an owner or admin, or the user's privacy refuses", 409: "Already a member" } }, status: 201 })
    .input(ZChatMemberAdd)
    .output(ZChatMemberRead)
    .mutation(({ ctx, input }) => addMember(ctx.app, ctx.user.id, input.chat_id, input.user_id)),
  setRole: authedProcedure
    .meta({ openapi: { method: "PATCH", path: "/chats/{chat_id}/members/{user_id}/role", tags, summary: "Change a member's role (owner only)" } })
    .input(ZChatMemberRoleUpdate)
    .output(ZChatMemberRead)
    .mutation(({ ctx, input }) => changeRole(ctx.app, ctx.user.id, input.chat_id, input.user_id, input.role)),
  removeMember: authedProcedure
    .meta({ openapi: { method: "DELETE", path: "/chats/{chat_id}/members/{user_id}", tags, summary: "Remove a member" }, status: 204 })
    .input(ZChatMemberTarget)
    .output(z.void())
    .mutation(({ ctx, input }) => removeMember(ctx.app, ctx.user.id, input.chat_id, input.user_id)),
  leave: authedProcedure
    .meta({ openapi: { method: "POST", path: "/chats/{chat_id}/leave", tags, summary: "Leave a group or channel" }, status: 204 })
    .input(ZChatIdInput)
    .output(z.void())
    .mutation(({ ctx, input }) => leaveChat(ctx.app, ctx.user.id, input.chat_id)),
  delete: authedProcedure
    .meta({ openapi: { method: "DELETE", path: "/chats/{chat_id}", tags, summary: "Delete a chat for the caller or for everyone" }, status: 204 })
    .input(ZChatDeleteInput)
    .output(z.void())
    .mutation(({ ctx, input }) => deleteChat(ctx.app, ctx.user.id, input.chat_id, input.for_all)),
  clear: authedProcedure
    .meta({ openapi: { method: "POST", path: "/chats/{chat_id}/clear", tags, summary: "Clear the history for the caller" }, status: 204 })
    .input(ZChatIdInput)
    .output(z.void())
    .mutation(({ ctx, input }) => clearHistory(ctx.app, ctx.user.id, input.chat_id)),
  pinMessage: authedProcedure
    .meta({ openapi: { method: "POST", path: "/chats/{chat_id}/pin", tags, summary: "Pin a message (null unpins)" } })
    .input(ZChatPinMessage)
    .output(ZChatRead)
    .mutation(({ ctx, input }) => pinMessage(ctx.app, ctx.user.id, input.chat_id, input.message_id)),
  notifications: authedProcedure
    .meta({ openapi: { method: "GET", path: "/chats/{chat_id}/notifications", tags, summary: "The caller's notification settings for a chat" } })
    .input(ZChatIdInput)
    .output(ZChatNotificationSettingsRead)
    .query(({ ctx, input }) => getNotificationSettings(ctx.app, ctx.user.id, input.chat_id)),
  setNotifications: authedProcedure
    .meta({ openapi: { method: "PUT", path: "/chats/{chat_id}/notifications", tags, summary: "Mute or unmute a chat for the caller" } })
    .input(ZChatMuteUpdate)
    .output(ZChatNotificationSettingsRead)
    .mutation(({ ctx, input }) => setMuted(ctx.app, ctx.user.id, input.chat_id, input.muted)),
  archive: authedProcedure
    .meta({ openapi: { method: "POST", path: "/chats/{chat_id}/archive", tags, summary: "Archive a chat for the caller" } })
    .input(ZChatIdInput)
    .output(ZChatRead)
    .mutation(({ ctx, input }) => setArchived(ctx.app, ctx.user.id, input.chat_id, true)),
  unarchive: authedProcedure
    .meta({ openapi: { method: "POST", path: "/chats/{chat_id}/unarchive", tags, summary: "Unarchive a chat for the caller" } })
    .input(ZChatIdInput)
    .output(ZChatRead)
    .mutation(({ ctx, input }) => setArchived(ctx.app, ctx.user.id, input.chat_id, false)),
  pinChat: authedProcedure
    .meta({ openapi: { method: "POST", path: "/chats/{chat_id}/pin-chat", tags, summary: "Pin a chat to the top of the caller's list" } })
    .input(ZChatIdInput)
    .output(ZChatRead)
    .mutation(({ ctx, input }) => setChatPinned(ctx.app, ctx.user.id, input.chat_id, true)),
  unpinChat: authedProcedure
    .meta({ openapi: { method: "POST", path: "/chats/{chat_id}/unpin-chat", tags, summary: "Unpin a chat" } })
    .input(ZChatIdInput)
    .output(ZChatRead)
    .mutation(({ ctx, input }) => setChatPinned(ctx.app, ctx.user.id, input.chat_id, false)),
  inviteLink: authedProcedure
    .meta({ openapi: { method: "POST", path: "/chats/{chat_id}/invite-link", tags, summary: "The chat's invite link (created on first call)" } })
    .input(ZChatIdInput)
    .output(ZChatInviteLinkRead)
    .mutation(({ ctx, input }) => getInviteLink(ctx.app, ctx.user.id, input.chat_id)),
});
