import { z } from "zod";
import { ZNoInput } from "../../lib/zod";
import { authedProcedure, router } from "../../trpc";
import { ZContactByEmailRequest, ZUserIdParam, ZUserProfileUpdate, ZUserRead, ZUserSearchQuery, ZUserSearchRead } from "./schemas";
import {
  addContact,
  addContactByEmail,
  blockUser,
  getUserAs,
  listBlocked,
  listContacts,
  removeContact,
  searchUsers,
  unblockUser,
  updateProfile,
} from "./service";

const tags = ["users"];

export const usersRouter = router({
  me: authedProcedure
    .meta({ openapi: { method: "GET", path: "/users/me", tags, summary: "The caller's profile, with privacy settings" } })
    .input(ZNoInput)
    .output(ZUserRead)
    .query(({ ctx }) => getUserAs(ctx.app.db, ctx.user.id, ctx.user.id)),
  search: authedProcedure
    .meta({ openapi: { method: "GET", path: "/users/search", tags, summary: "Find users by username, name or exact email" } })
    .input(ZUserSearchQuery)
    .output(z.array(ZUserSearchRead))
    .query(({ ctx, input }) => searchUsers(ctx.app.db, ctx.user.id, input.query, input.limit)),
  updateProfile: authedProcedure
    .meta({ openapi: { method: "PUT", path: "/users/profile", tags, summary: "Update the caller's profile and privacy settings", errorResponses: { 409: "Username already taken" } } })
    .input(ZUserProfileUpdate)
    .output(ZUserRead)
    .mutation(({ ctx, input }) => updateProfile(ctx.app, ctx.user.id, input)),
  blocked: authedProcedure
    .meta({ openapi: { method: "GET", path: "/users/blocked", tags, summary: "Users the caller blocked" } })
    .input(ZNoInput)
    .output(z.array(ZUserSearchRead))
    .query(({ ctx }) => listBlocked(ctx.app.db, ctx.user.id)),
  contacts: authedProcedure
    .meta({ openapi: { method: "GET", path: "/users/contacts", tags, summary: "The caller's contacts" } })
    .input(ZNoInput)
    .output(z.array(ZUserSearchRead))
    .query(({ ctx }) => listContacts(ctx.app.db, ctx.user.id)),
  addContact: authedProcedure
    .meta({ openapi: { method: "POST", path: "/users/{user_id}/contacts", tags, summary: "Add a user to the caller's contacts" }, status: 204 })
    .input(ZUserIdParam)
    .output(z.void())
    .mutation(({ ctx, input }) => addContact(ctx.app, ctx.user.id, input.user_id)),
  addContactByEmail: authedProcedure
    .meta({ openapi: { method: "POST", path: "/users/contacts/by-email", tags, summary: "Add a user to the caller's contacts by email", errorResponses: { 404: "No user with that email" } }, status: 204 })
    .input(ZContactByEmailRequest)
    .output(z.void())
    .mutation(({ ctx, input }) => addContactByEmail(ctx.app, ctx.user.id, input.email)),
  removeContact: authedProcedure
    .meta({ openapi: { method: "DELETE", path: "/users/{user_id}/contacts", tags, summary: "Remove a user from the caller's contacts" }, status: 204 })
    .input(ZUserIdParam)
    .output(z.void())
    .mutation(({ ctx, input }) => removeContact(ctx.app, ctx.user.id, input.user_id)),
  block: authedProcedure
    .meta({ openapi: { method: "POST", path: "/users/{user_id}/block", tags, summary: "Block a user" }, status: 204 })
    .input(ZUserIdParam)
    .output(z.void())
    .mutation(({ ctx, input }) => blockUser(ctx.app, ctx.user.id, input.user_id)),
  unblock: authedProcedure
    .meta({ openapi: { method: "DELETE", path: "/users/{user_id}/block", tags, summary: "Unblock a user" }, status: 204 })
    .input(ZUserIdParam)
    .output(z.void())
    .mutation(({ ctx, input }) => unblockUser(ctx.app, ctx.user.id, input.user_id)),
  get: authedProcedure
    .meta({ openapi: { method: "GET", path: "/users/{user_id}", tags, summary: "A user's profile, as the caller may see it" } })
    .input(ZUserIdParam)
    .output(ZUserRead)
    .query(({ ctx, input }) => getUserAs(ctx.app.db, ctx.user.id, input.user_id)),
});
