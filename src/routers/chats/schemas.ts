import { z } from "zod";
import { CHAT_ROLES, CHAT_TYPES, MESSAGE_TYPES } from "../../db/schema";
import { ZAvatarUrl, ZBigId, ZId, ZTimestamp, zLimit, zNonBlank } from "../../lib/zod";

export const ZChatType = z.enum(CHAT_TYPES).meta({ id: "ChatType" });
export const ZChatMemberRole = z.enum(CHAT_ROLES).meta({ id: "ChatMemberRole" });

export const HANDLE_PATTERN = /^[a-z0-9_]{4,32}$/;
export const ZHandle = z.string().regex(HANDLE_PATTERN, "must be 4-32 lower-case letters, digits or underscores");
export const ZChatTitle = zNonBlank(128);
export const ZDescription = z.string().max(1024, "must be at most 1024 characters");

export const ZChatRead = z
  .object({
    id: z.number().int(),
    public_id: z.string(),
    type: ZChatType,
    title: z.string().nullable(),
    avatar_url: z.string().nullable(),
    display_title: z.string(),
    handle: z.string().nullable(),
    description: z.string().nullable(),
    is_public: z.boolean(),
    is_saved: z.boolean(),
    archived: z.boolean(),
    pinned: z.boolean(),
    unread_count: z.number().int(),
    unread_mentions_count: z.number().int(),
    pinned_message_id: z.number().int().nullable(),
    members_count: z.number().int(),
    online_count: z.number().int(),
    subscribers_count: z.number().int().nullable(),
    counterpart_user_id: z.number().int().nullable(),
    counterpart_name: z.string().nullable(),
    counterpart_username: z.string().nullable(),
    counterpart_avatar_url: z.string().nullable(),
    counterpart_is_online: z.boolean().nullable(),
    counterpart_last_seen_at: ZTimestamp.nullable(),
    last_message_text: z.string().nullable(),
    last_message_type: z.enum(MESSAGE_TYPES).nullable(),
    last_message_created_at: ZTimestamp.nullable(),
    /** null when a non-member looks at a public chat. */
    my_role: ZChatMemberRole.nullable(),
    created_at: ZTimestamp,
  })
  .meta({ id: "ChatRead" });
export type TChatRead = z.infer<typeof ZChatRead>;

export const ZChatMemberRead = z
  .object({ id: z.number().int(), user_id: z.number().int(), role: ZChatMemberRole, joined_at: ZTimestamp })
  .meta({ id: "ChatMemberRead" });
export type TChatMemberRead = z.infer<typeof ZChatMemberRead>;

export const ZChatDetailRead = ZChatRead.extend({ members: z.array(ZChatMemberRead) }).meta({ id: "ChatDetailRead" });
export type TChatDetailRead = z.infer<typeof ZChatDetailRead>;

export const ZChatDiscoverRead = z
  .object({
    id: z.number().int(),
    public_id: z.string(),
    type: ZChatType,
    title: z.string().nullable(),
    handle: z.string().nullable(),
    description: z.string().nullable(),
    avatar_url: z.string().nullable(),
    members_count: z.number().int(),
    is_member: z.boolean(),
  })
  .meta({ id: "ChatDiscoverRead" });
export type TChatDiscoverRead = z.infer<typeof ZChatDiscoverRead>;

export const ZChatNotificationSettingsRead = z
  .object({ chat_id: z.number().int(), user_id: z.number().int(), muted: z.boolean() })
  .meta({ id: "ChatNotificationSettingsRead" });
export type TChatNotificationSettingsRead = z.infer<typeof ZChatNotificationSettingsRead>;

export const ZChatInviteLinkRead = z
  .object({ chat_id: z.number().int(), token: z.string(), invite_url: z.string() })
  .meta({ id: "ChatInviteLinkRead" });
export type TChatInviteLinkRead = z.infer<typeof ZChatInviteLinkRead>;

// ---- inputs

const ZQueryText = z.string().max(128, "must be at most 128 characters");

export const ZChatListQuery = z.object({
  limit: zLimit(50),
  before_id: ZId.optional(),
  query: ZQueryText.optional(),
  archived: z.boolean().default(false),
})
  // A tRPC call may leave the input out (every field has a default), as REST does.
  .prefault({});
export type TChatListQuery = z.infer<typeof ZChatListQuery>;

export const ZChatDiscoverQuery = z.object({ query: ZQueryText.optional(), limit: zLimit(30) }).prefault({});

export const ZChatCreateRequest = z
  .object({
    type: ZChatType,
    title: z.string().max(128, "must be at most 128 characters").nullish(),
    handle: z.string().max(64, "must be at most 64 characters").nullish(),
    description: ZDescription.nullish(),
    is_public: z.boolean().default(false),
    member_ids: z.array(ZId).max(200, "must list at most 200 users").default([]),
  })
  .meta({
    id: "ChatCreateRequest",
    example: { type: "group", title: "My Group", handle: "mygroup", description: "optional", is_public: true, member_ids: [2, 3] },
  });
export type TChatCreateRequest = z.infer<typeof ZChatCreateRequest>;

export const ZChatIdInput = z.object({ chat_id: ZId });
export const ZChatTitleUpdate = z.object({ chat_id: ZId, title: ZChatTitle });
export const ZChatProfileUpdate = z.object({
  chat_id: ZId,
  title: ZChatTitle.optional(),
  description: ZDescription.nullish(),
  avatar_url: ZAvatarUrl.nullish(),
});
export type TChatProfileUpdate = z.infer<typeof ZChatProfileUpdate>;
export const ZChatMemberAdd = z.object({ chat_id: ZId, user_id: ZId });
export const ZChatMemberTarget = z.object({ chat_id: ZId, user_id: ZId });
export const ZChatMemberRoleUpdate = z.object({ chat_id: ZId, user_id: ZId, role: ZChatMemberRole });
export const ZChatDeleteInput = z.object({ chat_id: ZId, for_all: z.boolean().default(false) });
export const ZChatPinMessage = z.object({ chat_id: ZId, message_id: ZBigId.nullable() });
export const ZChatMuteUpdate = z.object({ chat_id: ZId, muted: z.boolean() });
export const ZJoinByInvite = z.object({ token: z.string().min(1, "must not be empty").max(256, "is too long") });
