/**
 * The authorization matrix (issue 11 §1): for every procedure of appRouter, every actor and every
 * kind of chat, the HTTP status the REST call must answer. One row per {procedure, variant, actor,
 * kind}; test/security/authorization-matrix.test.ts builds the fixtures and runs each row.
 *
 * The statuses follow CONTRACT §2/§5/§6 and docs/decisions.md:
 * - no token: 401 everywhere a token is required;
 * - what the caller may not see (a closed chat they are not in, the messages of any chat they are
 *   not in): 404, the same answer as a missing id;
 * - a public group or channel is visible to everyone signed in (detail and member list), so
 *   chat-level actions there that need membership or rights answer 403, not 404; its messages stay
 *   members-only (404), and sending needs membership (404, CONTRACT §6);
 * - the kind of chat before rights: member management, titles and invite links in a private chat 422.
 */

export type Actor = "anonymous" | "authenticated" | "stranger" | "left" | "removed" | "blocked" | "member" | "admin" | "owner";
export type ChatKind = "private" | "group" | "public_group" | "channel" | "public_channel";
export type Kind = "none" | ChatKind;

export interface Row {
  /** tRPC path, e.g. "chats.updateTitle". */
  procedure: string;
  /** A second call shape of the same procedure (e.g. for_all=true), "" for the plain one. */
  variant: string;
  actor: Actor;
  kind: Kind;
  expect: number;
}

export const CHAT_KINDS: ChatKind[] = ["private", "group", "public_group", "channel", "public_channel"];

/**
 * Actors of each chat kind. A private chat has two members (`member` and `blocked`, whom `member`
 * blocked), no roles and cannot be left. In groups and channels `blocked` is a plain member whom the
 * owner blocked; `left` left the chat, `removed` was removed by the owner; `stranger` never belonged.
 */
export const ACTORS_OF: Record<Kind, Actor[]> = {
  none: ["anonymous", "authenticated"],
  private: ["anonymous", "stranger", "blocked", "member"],
  group: ["anonymous", "stranger", "left", "removed", "blocked", "member", "admin", "owner"],
  public_group: ["anonymous", "stranger", "left", "removed", "blocked", "member", "admin", "owner"],
  channel: ["anonymous", "stranger", "left", "removed", "blocked", "member", "admin", "owner"],
  public_channel: ["anonymous", "stranger", "left", "removed", "blocked", "member", "admin", "owner"],
};

const isOutsider = (a: Actor) => a === "stranger" || a === "left" || a === "removed";
const isPublic = (k: Kind) => k === "public_group" || k === "public_channel";
const isChannel = (k: Kind) => k === "channel" || k === "public_channel";
const isManager = (a: Actor) => a === "admin" || a === "owner";

/** Expected status of a chat-scoped procedure for a signed-in actor. */
type ChatRule = (kind: ChatKind, actor: Exclude<Actor, "anonymous" | "authenticated">) => number;

interface Spec {
  procedure: string;
  variant?: string;
  /** "none": anonymous/authenticated rows; otherwise one row per chat kind and actor. */
  kinds: "none" | ChatKind[];
  /** For kind "none": the status of a signed-in caller (anonymous is 401 unless `public`). */
  authed?: number;
  /** Public procedures: the anonymous status. */
  anonymous?: number;
  rule?: ChatRule;
}

/** Outsiders see a public chat (403 for what needs membership or rights), nothing else (404). */
const outsiderOfChat = (kind: ChatKind) => (isPublic(kind) ? 403 : 404);

/** Per-member settings and history clearing: any member; outsiders 403/404 by visibility. */
const ownRow =
  (ok: number): ChatRule =>
  (kind, actor) =>
    isOutsider(actor) ? outsiderOfChat(kind) : ok;

/** Owner and admins of a group or channel; 422 in a private chat. */
const managers =
  (ok: number): ChatRule =>
  (kind, actor) => {
    if (isOutsider(actor)) return outsiderOfChat(kind);
    if (kind === "private") return 422;
    return isManager(actor) ? ok : 403;
  };

/** Reading a chat's messages (and anything addressed by message id): members only, else 404. */
const messagesOf =
  (ok: number): ChatRule =>
  (_kind, actor) =>
    isOutsider(actor) ? 404 : ok;

/** Posting (send, forward into the same chat): members; channels owner/admin; a blocked sender in a private chat 403. */
const posting: ChatRule = (kind, actor) => {
  if (isOutsider(actor)) return 404;
  if (kind === "private") return actor === "blocked" ? 403 : 201;
  if (isChannel(kind)) return isManager(actor) ? 201 : 403;
  return 201;
};

/** Acting on a message of the chat's owner (in a private chat: of `member`) that only its sender may do. */
const senderOnly =
  (ok: number): ChatRule =>
  (kind, actor) => {
    if (isOutsider(actor)) return 404;
    const sender = kind === "private" ? "member" : "owner";
    return actor === sender ? ok : 403;
  };

const GROUPS: ChatKind[] = ["group", "public_group", "channel", "public_channel"];

export const SPECS: Spec[] = [
  // Health and auth: public procedures answer the same with or without a token.
  { procedure: "health.check", kinds: "none", anonymous: 200, authed: 200 },
  { procedure: "health.live", kinds: "none", anonymous: 200, authed: 200 },
  { procedure: "health.ready", kinds: "none", anonymous: 200, authed: 200 },
  { procedure: "auth.register", kinds: "none", anonymous: 201, authed: 201 },
  { procedure: "auth.login", kinds: "none", anonymous: 200, authed: 200 },
  { procedure: "auth.refresh", kinds: "none", anonymous: 200, authed: 200 },
  { procedure: "auth.verifyEmail", variant: "unknown token", kinds: "none", anonymous: 400, authed: 400 },
  { procedure: "auth.resendVerification", kinds: "none", anonymous: 200, authed: 200 },
  { procedure: "auth.requestPasswordReset", kinds: "none", anonymous: 200, authed: 200 },
  { procedure: "auth.resetPassword", variant: "unknown token", kinds: "none", anonymous: 400, authed: 400 },
  { procedure: "auth.me", kinds: "none", authed: 200 },
  { procedure: "auth.sessions", kinds: "none", authed: 200 },
  { procedure: "auth.revokeSession", variant: "own other session", kinds: "none", authed: 204 },
  { procedure: "auth.revokeSession", variant: "another user's session", kinds: "none", authed: 404 },
  { procedure: "auth.revokeOtherSessions", kinds: "none", authed: 204 },
  { procedure: "auth.setupTwoFactor", kinds: "none", authed: 200 },
  { procedure: "auth.enableTwoFactor", variant: "wrong code", kinds: "none", authed: 400 },
  { procedure: "auth.disableTwoFactor", variant: "not enabled", kinds: "none", authed: 400 },
  // Users: everything needs a token; nothing takes a chat.
  { procedure: "users.me", kinds: "none", authed: 200 },
  { procedure: "users.search", kinds: "none", authed: 200 },
  { procedure: "users.updateProfile", kinds: "none", authed: 200 },
  { procedure: "users.blocked", kinds: "none", authed: 200 },
  { procedure: "users.contacts", kinds: "none", authed: 200 },
  { procedure: "users.addContact", kinds: "none", authed: 204 },
  { procedure: "users.addContactByEmail", kinds: "none", authed: 204 },
  { procedure: "users.removeContact", kinds: "none", authed: 204 },
  { procedure: "users.block", kinds: "none", authed: 204 },
  { procedure: "users.unblock", kinds: "none", authed: 204 },
  { procedure: "users.get", kinds: "none", authed: 200 },
  // Chats without a chat id.
  { procedure: "chats.list", kinds: "none", authed: 200 },
  { procedure: "chats.saved", kinds: "none", authed: 200 },
  { procedure: "chats.discover", kinds: "none", authed: 200 },
  { procedure: "chats.create", kinds: "none", authed: 200 },
  { procedure: "media.uploadUrl", kinds: "none", authed: 200 },
  { procedure: "notifications.list", kinds: "none", authed: 200 },
  { procedure: "search.global", kinds: "none", authed: 200 },
  { procedure: "sync.get", kinds: "none", authed: 200 },
  { procedure: "messages.search", variant: "all chats", kinds: "none", authed: 200 },

  // Chats by id.
  { procedure: "chats.get", kinds: CHAT_KINDS, rule: (k, a) => (isOutsider(a) && !isPublic(k) ? 404 : 200) },
  { procedure: "chats.members", kinds: CHAT_KINDS, rule: (k, a) => (isOutsider(a) && !isPublic(k) ? 404 : 200) },
  // Outsiders join public chats; a member joining again is a no-op; closed chats are 404 to outsiders.
  { procedure: "chats.join", kinds: CHAT_KINDS, rule: (k, a) => (isOutsider(a) && !isPublic(k) ? 404 : 200) },
  // Whoever holds the token joins (private chats have no invite links).
  { procedure: "chats.joinByInvite", kinds: GROUPS, rule: () => 200 },
  { procedure: "chats.updateTitle", kinds: CHAT_KINDS, rule: managers(200) },
  { procedure: "chats.updateProfile", kinds: CHAT_KINDS, rule: managers(200) },
  { procedure: "chats.addMember", kinds: CHAT_KINDS, rule: managers(201) },
  { procedure: "chats.inviteLink", kinds: CHAT_KINDS, rule: managers(200) },
  {
    procedure: "chats.setRole",
    kinds: CHAT_KINDS,
    rule: (k, a) => (isOutsider(a) ? outsiderOfChat(k) : k === "private" ? 422 : a === "owner" ? 200 : 403),
  },
  // Removing a plain member: owner and admins.
  { procedure: "chats.removeMember", kinds: CHAT_KINDS, rule: managers(204) },
  { procedure: "chats.leave", kinds: CHAT_KINDS, rule: (k, a) => (isOutsider(a) ? outsiderOfChat(k) : k === "private" ? 422 : 204) },
  {
    procedure: "chats.delete",
    variant: "for_all=true",
    kinds: CHAT_KINDS,
    rule: (k, a) => (isOutsider(a) ? outsiderOfChat(k) : k === "private" || a === "owner" ? 204 : 403),
  },
  { procedure: "chats.delete", variant: "for_all=false", kinds: CHAT_KINDS, rule: ownRow(204) },
  { procedure: "chats.clear", kinds: CHAT_KINDS, rule: ownRow(204) },
  {
    procedure: "chats.pinMessage",
    kinds: CHAT_KINDS,
    rule: (k, a) => (isOutsider(a) ? outsiderOfChat(k) : k === "private" || isManager(a) ? 200 : 403),
  },
  { procedure: "chats.notifications", kinds: CHAT_KINDS, rule: ownRow(200) },
  { procedure: "chats.setNotifications", kinds: CHAT_KINDS, rule: ownRow(200) },
  { procedure: "chats.archive", kinds: CHAT_KINDS, rule: ownRow(200) },
  { procedure: "chats.unarchive", kinds: CHAT_KINDS, rule: ownRow(200) },
  { procedure: "chats.pinChat", kinds: CHAT_KINDS, rule: ownRow(200) },
  { procedure: "chats.unpinChat", kinds: CHAT_KINDS, rule: ownRow(200) },

  // Messages.
  { procedure: "messages.send", kinds: CHAT_KINDS, rule: posting },
  { procedure: "messages.search", variant: "chat_id", kinds: CHAT_KINDS, rule: messagesOf(200) },
  { procedure: "messages.history", kinds: CHAT_KINDS, rule: messagesOf(200) },
  { procedure: "messages.thread", kinds: CHAT_KINDS, rule: messagesOf(200) },
  { procedure: "messages.edit", kinds: CHAT_KINDS, rule: senderOnly(200) },
  { procedure: "messages.delete", variant: "for_all=false", kinds: CHAT_KINDS, rule: messagesOf(204) },
  {
    procedure: "messages.delete",
    variant: "for_all=true",
    kinds: CHAT_KINDS,
    // The sender; in groups and channels also the owner and admins.
    rule: (k, a) => (isOutsider(a) ? 404 : k === "private" ? (a === "member" ? 204 : 403) : isManager(a) ? 204 : 403),
  },
  { procedure: "messages.status", kinds: CHAT_KINDS, rule: messagesOf(200) },
  { procedure: "messages.forward", kinds: CHAT_KINDS, rule: posting },
  { procedure: "messages.forwardBulk", kinds: CHAT_KINDS, rule: posting },
  { procedure: "messages.reactions", kinds: CHAT_KINDS, rule: messagesOf(200) },
  { procedure: "messages.toggleReaction", kinds: CHAT_KINDS, rule: messagesOf(200) },

  // Media.
  { procedure: "media.attach", kinds: CHAT_KINDS, rule: senderOnly(200) },
  { procedure: "media.chatAttachments", kinds: CHAT_KINDS, rule: messagesOf(200) },
];

export function buildRows(specs: Spec[] = SPECS): Row[] {
  const rows: Row[] = [];
  for (const spec of specs) {
    const variant = spec.variant ?? "";
    if (spec.kinds === "none") {
      rows.push({ procedure: spec.procedure, variant, actor: "anonymous", kind: "none", expect: spec.anonymous ?? 401 });
      rows.push({ procedure: spec.procedure, variant, actor: "authenticated", kind: "none", expect: spec.authed ?? 200 });
      continue;
    }
    const rule = spec.rule;
    if (!rule) throw new Error(`${spec.procedure}: a chat-scoped spec needs a rule`);
    for (const kind of spec.kinds) {
      for (const actor of ACTORS_OF[kind]) {
        if (actor === "anonymous") rows.push({ procedure: spec.procedure, variant, actor, kind, expect: 401 });
        else if (actor !== "authenticated") rows.push({ procedure: spec.procedure, variant, actor, kind, expect: rule(kind, actor) });
      }
    }
  }
  return rows;
}

export const ROWS: Row[] = buildRows();
