import { z } from "zod";
import { PRIVACY_LEVELS } from "../../db/schema";
import { ZAvatarUrl, ZId, ZTimestamp, zLimit } from "../../lib/zod";
import { ZEmail, ZName, ZUsername } from "../auth/schemas";

export const ZPrivacyLevel = z.enum(PRIVACY_LEVELS, "must be one of everyone, contacts, nobody").meta({ id: "PrivacyLevel" });

export const ZUserRead = z
  .object({
    id: z.number().int(),
    name: z.string(),
    username: z.string(),
    /** Another user's email only when they have the caller in their contacts (docs/decisions.md). */
    email: z.string().nullable(),
    /** Another user's avatar only as their privacy_avatar allows (CONTRACT §4). */
    avatar_url: z.string().nullable(),
    bio: z.string().nullable(),
    email_verified: z.boolean(),
    allow_private_messages: z.boolean(),
    /** Never disclosed for other users (null). */
    twofa_enabled: z.boolean().nullable(),
    created_at: ZTimestamp,
    updated_at: ZTimestamp,
    /** Present for the caller only. */
    privacy_avatar: ZPrivacyLevel.optional(),
    privacy_last_seen: ZPrivacyLevel.optional(),
    privacy_group_invites: ZPrivacyLevel.optional(),
  })
  .meta({ id: "UserRead" });
export type TUserRead = z.infer<typeof ZUserRead>;

export const ZUserSearchRead = z
  .object({
    id: z.number().int(),
    name: z.string(),
    username: z.string(),
    email: z.string().nullable(),
    avatar_url: z.string().nullable(),
  })
  .meta({ id: "UserSearchRead" });
export type TUserSearchRead = z.infer<typeof ZUserSearchRead>;

export const ZUserProfileUpdate = z
  .object({
    name: ZName.optional(),
    username: ZUsername.optional(),
    bio: z.string().max(500, "must be at most 500 characters").nullish(),
    avatar_url: ZAvatarUrl.nullish(),
    allow_private_messages: z.boolean().optional(),
    privacy_avatar: ZPrivacyLevel.optional(),
    privacy_last_seen: ZPrivacyLevel.optional(),
    privacy_group_invites: ZPrivacyLevel.optional(),
  })
  .meta({ id: "UserProfileUpdate" });
export type TUserProfileUpdate = z.infer<typeof ZUserProfileUpdate>;

export const ZUserSearchQuery = z.object({
  query: z.string().max(256, "must be at most 256 characters"),
  limit: zLimit(20),
});

export const ZUserIdParam = z.object({ user_id: ZId });

export const ZContactByEmailRequest = z.object({ email: ZEmail }).meta({ id: "ContactByEmailRequest", example: { email: "target@example.com" } });
