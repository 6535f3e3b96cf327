/**
 * The authorization matrix (issue 11 §1): every row of test/security/authorization-table.ts run
 * through REST against fixtures built through REST, plus
 * - a guard that every tRPC procedure and every OpenAPI operation has rows;
 * - a stranger (and an ex-member) walking every id on every id-taking endpoint: only answers
 *   byte-identical to those for an id that does not exist.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Meta } from "../../src/trpc";
import { appRouter } from "../../src/routers/_app";
import { api, type ApiResponse } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { ACTORS_OF, CHAT_KINDS, ROWS, type Actor, type ChatKind, type Row } from "./authorization-table";

type Res = ApiResponse<unknown>;
type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

let seq = 0;
const unique = (p = "m") => `${p} ${Date.now().toString(36)}-${++seq}`;
const handle = () => `am_${Date.now().toString(36)}${(++seq).toString(36)}`.slice(0, 32);

function field(body: unknown, key: string): unknown {
  return typeof body === "object" && body !== null ? (body as Record<string, unknown>)[key] : undefined;
}
function numField(body: unknown, key: string): number {
  const v = field(body, key);
  if (typeof v !== "number") throw new Error(`expected a number in ${key}: ${JSON.stringify(body)}`);
  return v;
}
function strField(body: unknown, key: string): string {
  const v = field(body, key);
  if (typeof v !== "string") throw new Error(`expected a string in ${key}: ${JSON.stringify(body)}`);
  return v;
}
/** The `jti` claim of a JWT (no verification: our own token). */
function jtiOf(token: string): string {
  const part = token.split(".")[1] ?? "";
  return strField(JSON.parse(Buffer.from(part, "base64url").toString("utf8")), "jti");
}

function procedureMeta(): Map<string, Meta> {
  const out = new Map<string, Meta>();
  for (const [name, proc] of Object.entries(appRouter._def.procedures as unknown as Record<string, { _def: { meta?: Meta } }>)) {
    if (proc._def.meta) out.set(name, proc._def.meta);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The matrix

let server: TestServer;
const call = (method: Method, path: string, token?: string, body?: unknown): Promise<Res> => api<unknown>(server.url, method, path, { token, body });
async function ok(r: Promise<Res>, status = 200): Promise<Res> {
  const res = await r;
  if (res.status !== status) throw new Error(`fixture step failed: ${res.status} ${res.text}`);
  return res;
}

type ChatActor = Exclude<Actor, "anonymous" | "authenticated">;
let people: Record<ChatActor | "target" | "authed" | "other", TestUser>;
let spares: TestUser[];
let spareIndex = 0;
/** Each actor's own uploaded file, for attach rows. */
const uploads = new Map<number, { file_url: string; file_type: string; file_size: number }>();

interface Fixture {
  chatId: number;
  invite: string | null;
}
const fixtures = new Map<ChatKind, Fixture>();

async function buildFixture(kind: ChatKind): Promise<Fixture> {
  const { owner, admin, member, blocked, left, removed, target } = people;
  if (kind === "private") {
    // `member` asks first (the pair may have been deleted for all); then `blocked` un-hides it for themself.
    const chat = await ok(call("POST", "/chats", member.token, { type: "private", member_ids: [blocked.id] }));
    await ok(call("POST", "/chats", blocked.token, { type: "private", member_ids: [member.id] }));
    return { chatId: numField(chat.body, "id"), invite: null };
  }
  const isPublic = kind === "public_group" || kind === "public_channel";
  const created = await ok(
    call("POST", "/chats", owner.token, {
      type: kind === "channel" || kind === "public_channel" ? "channel" : "group",
      title: `matrix ${kind}`,
      is_public: isPublic,
      handle: isPublic ? handle() : undefined,
      member_ids: [admin.id, member.id, blocked.id, left.id, removed.id, target.id],
    }),
  );
  const chatId = numField(created.body, "id");
  await ok(call("PATCH", `/chats/${chatId}/members/${admin.id}/role`, owner.token, { role: "admin" }));
  await ok(call("POST", `/chats/${chatId}/leave`, left.token), 204);
  await ok(call("DELETE", `/chats/${chatId}/members/${removed.id}`, owner.token), 204);
  const link = await ok(call("POST", `/chats/${chatId}/invite-link`, owner.token));
  return { chatId, invite: strField(link.body, "token") };
}

async function fixtureOf(kind: ChatKind): Promise<Fixture> {
  const have = fixtures.get(kind);
  if (have) return have;
  const built = await buildFixture(kind);
  fixtures.set(kind, built);
  return built;
}

/** A fresh message by the chat's usual sender (the owner; `member` in the private chat). */
async function freshMessage(kind: ChatKind, chatId: number): Promise<number> {
  const sender = kind === "private" ? people.member : people.owner;
  const r = await ok(call("POST", "/messages", sender.token, { chat_id: chatId, text: unique("hello") }), 201);
  return numField(r.body, "id");
}

const isOutsider = (a: Actor) => a === "stranger" || a === "left" || a === "removed";

/**
 * After a successful call that changed who belongs to the fixture, puts it back (cheaply where one
 * request undoes it) or drops it so the next row builds a new one.
 */
async function restore(row: Row, kind: ChatKind, fx: Fixture, status: number): Promise<void> {
  if (status < 200 || status > 299) return;
  const { owner, target } = people;
  const drop = () => void fixtures.delete(kind);
  const actorUser = row.actor === "anonymous" || row.actor === "authenticated" ? null : people[row.actor];
  switch (row.procedure) {
    case "chats.join":
    case "chats.joinByInvite":
      if (actorUser && isOutsider(row.actor)) await ok(call("POST", `/chats/${fx.chatId}/leave`, actorUser.token), 204);
      return;
    case "chats.setRole":
      if (kind === "private") return drop();
      await ok(call("PATCH", `/chats/${fx.chatId}/members/${target.id}/role`, owner.token, { role: "member" }));
      return;
    case "chats.removeMember":
      if (kind === "private") return drop();
      await ok(call("POST", `/chats/${fx.chatId}/members`, owner.token, { user_id: target.id }), 201);
      return;
    case "chats.leave":
    case "chats.delete":
      // A plain member leaving comes back through the owner; anything else is rebuilt.
      if (kind !== "private" && actorUser && (row.actor === "member" || row.actor === "blocked") && row.variant !== "for_all=true") {
        await ok(call("POST", `/chats/${fx.chatId}/members`, owner.token, { user_id: actorUser.id }), 201);
        return;
      }
      return drop();
    default:
      return;
  }
}

type ChatCall = (ctx: { kind: ChatKind; chatId: number; invite: string | null; token: string | undefined; actor: Actor }) => Promise<Res>;
type NoneCall = (token: string | undefined) => Promise<Res>;

const key = (procedure: string, variant: string) => (variant ? `${procedure} [${variant}]` : procedure);

const withMessage =
  (f: (ctx: { chatId: number; messageId: number; token: string | undefined }) => Promise<Res>): ChatCall =>
  async ({ kind, chatId, token }) =>
    f({ chatId, token, messageId: await freshMessage(kind, chatId) });

const CHAT_CALLS: Record<string, ChatCall> = {
  "chats.get": ({ chatId, token }) => call("GET", `/chats/${chatId}`, token),
  "chats.members": ({ chatId, token }) => call("GET", `/chats/${chatId}/members`, token),
  "chats.join": ({ chatId, token }) => call("POST", `/chats/${chatId}/join`, token),
  "chats.joinByInvite": ({ invite, token }) => call("POST", "/chats/join-by-invite", token, { token: invite }),
  "chats.updateTitle": ({ chatId, token }) => call("PATCH", `/chats/${chatId}/title`, token, { title: unique("title") }),
  "chats.updateProfile": ({ chatId, token }) => call("PATCH", `/chats/${chatId}/profile`, token, { description: unique("about") }),
  "chats.addMember": ({ chatId, token }) => {
    const spare = spares[spareIndex++ % spares.length];
    if (!spare) throw new Error("no spare users");
    return call("POST", `/chats/${chatId}/members`, token, { user_id: spare.id });
  },
  "chats.inviteLink": ({ chatId, token }) => call("POST", `/chats/${chatId}/invite-link`, token),
  "chats.setRole": ({ kind, chatId, token, actor }) => {
    const target = kind !== "private" ? people.target : actor === "blocked" ? people.member : people.blocked;
    return call("PATCH", `/chats/${chatId}/members/${target.id}/role`, token, { role: "admin" });
  },
  "chats.removeMember": ({ kind, chatId, token, actor }) => {
    const target = kind !== "private" ? people.target : actor === "blocked" ? people.member : people.blocked;
    return call("DELETE", `/chats/${chatId}/members/${target.id}`, token);
  },
  "chats.leave": ({ chatId, token }) => call("POST", `/chats/${chatId}/leave`, token),
  "chats.delete [for_all=true]": ({ chatId, token }) => call("DELETE", `/chats/${chatId}?for_all=true`, token),
  "chats.delete [for_all=false]": ({ chatId, token }) => call("DELETE", `/chats/${chatId}?for_all=false`, token),
  "chats.clear": ({ chatId, token }) => call("POST", `/chats/${chatId}/clear`, token),
  "chats.pinMessage": withMessage(({ chatId, messageId, token }) => call("POST", `/chats/${chatId}/pin`, token, { message_id: messageId })),
  "chats.notifications": ({ chatId, token }) => call("GET", `/chats/${chatId}/notifications`, token),
  "chats.setNotifications": ({ chatId, token }) => call("PUT", `/chats/${chatId}/notifications`, token, { muted: true }),
  "chats.archive": ({ chatId, token }) => call("POST", `/chats/${chatId}/archive`, token),
  "chats.unarchive": ({ chatId, token }) => call("POST", `/chats/${chatId}/unarchive`, token),
  "chats.pinChat": ({ chatId, token }) => call("POST", `/chats/${chatId}/pin-chat`, token),
  "chats.unpinChat": ({ chatId, token }) => call("POST", `/chats/${chatId}/unpin-chat`, token),
  "messages.send": ({ chatId, token }) => call("POST", "/messages", token, { chat_id: chatId, text: unique("sent") }),
  "messages.search [chat_id]": withMessage(({ chatId, token }) => call("GET", `/messages/search?query=hello&chat_id=${chatId}`, token)),
  "messages.history": withMessage(({ chatId, token }) => call("GET", `/messages/${chatId}`, token)),
  "messages.thread": withMessage(({ messageId, token }) => call("GET", `/messages/${messageId}/thread`, token)),
  "messages.edit": withMessage(({ messageId, token }) => call("PUT", `/messages/${messageId}`, token, { text: unique("edited") })),
  "messages.delete [for_all=false]": withMessage(({ messageId, token }) => call("DELETE", `/messages/${messageId}?for_all=false`, token)),
  "messages.delete [for_all=true]": withMessage(({ messageId, token }) => call("DELETE", `/messages/${messageId}?for_all=true`, token)),
  "messages.status": withMessage(({ chatId, messageId, token }) =>
    call("POST", "/messages/status", token, { chat_id: chatId, message_id: messageId, status: "message_read" }),
  ),
  "messages.forward": withMessage(({ chatId, messageId, token }) => call("POST", `/messages/${messageId}/forward`, token, { target_chat_id: chatId })),
  "messages.forwardBulk": withMessage(({ chatId, messageId, token }) =>
    call("POST", `/messages/${messageId}/forward-bulk`, token, { target_chat_ids: [chatId] }),
  ),
  "messages.reactions": withMessage(({ messageId, token }) => call("GET", `/messages/${messageId}/reactions`, token)),
  "messages.toggleReaction": withMessage(({ messageId, token }) => call("POST", `/messages/${messageId}/reactions/toggle`, token, { emoji: "👍" })),
  "media.attach": async ({ kind, chatId, token, actor }) => {
    const messageId = await freshMessage(kind, chatId);
    const user = actor === "anonymous" || actor === "authenticated" ? people.owner : people[actor];
    const file = uploads.get(user.id);
    if (!file) throw new Error(`no upload for ${actor}`);
    return call("POST", "/media/attachments", token, { message_id: messageId, ...file });
  },
  "media.chatAttachments": ({ chatId, token }) => call("GET", `/media/chats/${chatId}/attachments`, token),
};

const NONE_CALLS: Record<string, NoneCall> = {
  "health.check": (t) => call("GET", "/health", t),
  "health.live": (t) => call("GET", "/health/live", t),
  "health.ready": (t) => call("GET", "/health/ready", t),
  "auth.register": (t) => {
    const username = `am_${Date.now().toString(36)}${++seq}`;
    return call("POST", "/auth/register", t, { email: `${username}@example.com`, name: "Matrix", username, password: "correct-horse-battery" });
  },
  "auth.login": (t) => call("POST", "/auth/login", t, { email: people.authed.email, password: people.authed.password }),
  "auth.refresh": async (t) => {
    const login = await ok(call("POST", "/auth/login", undefined, { email: people.other.email, password: people.other.password }));
    return call("POST", "/auth/refresh", t, { refresh_token: strField(login.body, "refresh_token") });
  },
  "auth.verifyEmail [unknown token]": (t) => call("POST", "/auth/verify-email", t, { token: "x".repeat(43) }),
  "auth.resendVerification": (t) => call("POST", "/auth/resend-verification", t, { email: people.other.email }),
  "auth.requestPasswordReset": (t) => call("POST", "/auth/request-password-reset", t, { email: "nobody@example.com" }),
  "auth.resetPassword [unknown token]": (t) => call("POST", "/auth/reset-password", t, { token: "x".repeat(43), new_password: "another-long-password" }),
  "auth.me": (t) => call("GET", "/auth/me", t),
  "auth.sessions": (t) => call("GET", "/auth/sessions", t),
  "auth.revokeSession [own other session]": async (t) => {
    const login = await ok(call("POST", "/auth/login", undefined, { email: people.authed.email, password: people.authed.password }));
    return call("DELETE", `/auth/sessions/${jtiOf(strField(login.body, "access_token"))}`, t);
  },
  "auth.revokeSession [another user's session]": (t) => call("DELETE", `/auth/sessions/${jtiOf(people.other.token)}`, t),
  "auth.revokeOtherSessions": (t) => call("DELETE", "/auth/sessions", t),
  "auth.setupTwoFactor": (t) => call("POST", "/auth/2fa/setup", t),
  "auth.enableTwoFactor [wrong code]": async (t) => {
    if (t) await ok(call("POST", "/auth/2fa/setup", t));
    return call("POST", "/auth/2fa/enable", t, { code: "000000" });
  },
  "auth.disableTwoFactor [not enabled]": (t) => call("POST", "/auth/2fa/disable", t, { code: "000000" }),
  "users.me": (t) => call("GET", "/users/me", t),
  "users.search": (t) => call("GET", "/users/search?query=user", t),
  "users.updateProfile": (t) => call("PUT", "/users/profile", t, { bio: unique("bio") }),
  "users.blocked": (t) => call("GET", "/users/blocked", t),
  "users.contacts": (t) => call("GET", "/users/contacts", t),
  "users.addContact": (t) => call("POST", `/users/${people.other.id}/contacts`, t),
  "users.addContactByEmail": (t) => call("POST", "/users/contacts/by-email", t, { email: people.other.email }),
  "users.removeContact": (t) => call("DELETE", `/users/${people.other.id}/contacts`, t),
  "users.block": (t) => call("POST", `/users/${people.other.id}/block`, t),
  "users.unblock": (t) => call("DELETE", `/users/${people.other.id}/block`, t),
  "users.get": (t) => call("GET", `/users/${people.other.id}`, t),
  "chats.list": (t) => call("GET", "/chats", t),
  "chats.saved": (t) => call("GET", "/chats/saved", t),
  "chats.discover": (t) => call("GET", "/chats/discover?query=matrix", t),
  "chats.create": (t) => call("POST", "/chats", t, { type: "group", title: "created by the matrix" }),
  "media.uploadUrl": (t) => call("POST", "/media/upload-url", t, { file_name: "a.txt", file_type: "text/plain", file_size: 4 }),
  "notifications.list": (t) => call("GET", "/notifications", t),
  "search.global": (t) => call("GET", "/search?query=hello", t),
  "sync.get": (t) => call("GET", "/sync?since=0", t),
  "messages.search [all chats]": (t) => call("GET", "/messages/search?query=hello", t),
};

async function uploadFor(user: TestUser): Promise<void> {
  const bytes = new TextEncoder().encode(`file of ${user.id}`);
  const ticket = await ok(call("POST", "/media/upload-url", user.token, { file_name: "f.txt", file_type: "text/plain", file_size: bytes.byteLength }));
  const headers = field(ticket.body, "required_headers") as Record<string, string>;
  const put = await fetch(strField(ticket.body, "upload_url"), { method: "PUT", headers, body: bytes });
  if (put.status !== 200) throw new Error(`PUT failed: ${put.status}`);
  uploads.set(user.id, { file_url: strField(ticket.body, "file_url"), file_type: "text/plain", file_size: bytes.byteLength });
}

describe("authorization matrix", () => {
  beforeAll(async () => {
    server = await startTestServer();
    const all = await Promise.all(Array.from({ length: 15 }, () => createUser(server)));
    const [owner, admin, member, blocked, left, removed, stranger, target, authed, other, ...rest] = all;
    if (!owner || !admin || !member || !blocked || !left || !removed || !stranger || !target || !authed || !other) throw new Error("users");
    people = { owner, admin, member, blocked, left, removed, stranger, target, authed, other };
    spares = rest;
    await ok(call("POST", `/users/${blocked.id}/block`, owner.token), 204);
    await ok(call("POST", `/users/${blocked.id}/block`, member.token), 204);
    for (const u of [owner, admin, member, blocked, left, removed, stranger]) await uploadFor(u);
  });
  afterAll(() => server.stop());

  test("every row has a call, and the table covers every procedure", () => {
    console.log(`authorization matrix: ${ROWS.length} rows`);
    const procedures = Object.keys(appRouter._def.procedures);
    const covered = new Set(ROWS.map((r) => r.procedure));
    expect(procedures.filter((p) => !covered.has(p))).toEqual([]);
    expect([...covered].filter((p) => !procedures.includes(p))).toEqual([]);
    const missingCalls = [...new Set(ROWS.map((r) => key(r.procedure, r.variant)))].filter((k) => !(k in CHAT_CALLS) && !(k in NONE_CALLS));
    expect(missingCalls).toEqual([]);
    // Every actor of every kind appears for every chat-scoped procedure it applies to.
    for (const kind of CHAT_KINDS) {
      const actors = new Set(ROWS.filter((r) => r.kind === kind).map((r) => r.actor));
      expect([...actors].sort()).toEqual([...ACTORS_OF[kind]].sort());
    }
  });

  test("every OpenAPI operation is a procedure with rows", async () => {
    const doc = await ok(call("GET", "/api/v1/openapi.json"));
    const paths = field(doc.body, "paths") as Record<string, Record<string, unknown>>;
    const byRoute = new Map<string, string>();
    for (const [name, meta] of procedureMeta()) {
      const o = meta.openapi;
      if (o) byRoute.set(`${o.method.toUpperCase()} ${o.path}`, name);
    }
    const covered = new Set(ROWS.map((r) => r.procedure));
    const uncovered: string[] = [];
    let operations = 0;
    for (const [path, item] of Object.entries(paths)) {
      for (const method of Object.keys(item)) {
        if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
        operations++;
        const route = `${method.toUpperCase()} ${path.replace(/^\/api\/v1/, "")}`;
        const name = byRoute.get(route);
        if (!name || !covered.has(name)) uncovered.push(route);
      }
    }
    expect(operations).toBe(byRoute.size);
    expect(uncovered).toEqual([]);
  });

  const procedures = [...new Set(ROWS.map((r) => key(r.procedure, r.variant)))];
  for (const name of procedures) {
    test(name, async () => {
      const rows = ROWS.filter((r) => key(r.procedure, r.variant) === name);
      const wrong: string[] = [];
      for (const row of rows) {
        let res: Res;
        if (row.kind === "none") {
          const f = NONE_CALLS[name];
          if (!f) throw new Error(`no call for ${name}`);
          res = await f(row.actor === "anonymous" ? undefined : people.authed.token);
        } else {
          const f = CHAT_CALLS[name];
          if (!f) throw new Error(`no call for ${name}`);
          const kind = row.kind;
          const fx = await fixtureOf(kind);
          const token = row.actor === "anonymous" || row.actor === "authenticated" ? undefined : people[row.actor].token;
          res = await f({ kind, chatId: fx.chatId, invite: fx.invite, token, actor: row.actor });
          await restore(row, kind, fx, res.status);
        }
        if (res.status !== row.expect) wrong.push(`${row.kind} ${row.actor}: expected ${row.expect}, got ${res.status} ${res.text.slice(0, 120)}`);
        if (res.status === 401 && res.headers.get("www-authenticate") !== "Bearer") wrong.push(`${row.kind} ${row.actor}: 401 without WWW-Authenticate`);
      }
      expect(wrong).toEqual([]);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// The id walk

const MISSING = 2147483000;

describe("a stranger and an ex-member walking every id", () => {
  let walkServer: TestServer;
  let publicChats: Set<number>;
  let maxChat = 0;
  let maxMessage = 0;
  let walkers: { name: string; user: TestUser; saved: number; own: number; file: { file_url: string; file_type: string; file_size: number } }[] = [];
  let someone: TestUser;

  beforeAll(async () => {
    walkServer = await startTestServer();
    const w = (method: Method, path: string, token?: string, body?: unknown) => api<unknown>(walkServer.url, method, path, { token, body });
    const must = async (r: Promise<Res>, status = 200) => {
      const res = await r;
      if (res.status !== status) throw new Error(`walk fixture: ${res.status} ${res.text}`);
      return numField(res.body, "id");
    };
    const [a, b, c, stranger, exMember] = await Promise.all(Array.from({ length: 5 }, () => createUser(walkServer)));
    if (!a || !b || !c || !stranger || !exMember) throw new Error("users");
    someone = b;
    const mk = (body: Record<string, unknown>, owner = a) => must(w("POST", "/chats", owner.token, body));
    const priv = await mk({ type: "private", member_ids: [b.id] });
    const saved = await must(w("GET", "/chats/saved", a.token));
    const group = await mk({ type: "group", title: "closed", member_ids: [b.id, c.id, exMember.id] });
    const channel = await mk({ type: "channel", title: "closed channel", member_ids: [b.id, exMember.id] });
    const pubGroup = await mk({ type: "group", title: "open", is_public: true, handle: handle(), member_ids: [b.id] });
    const pubChannel = await mk({ type: "channel", title: "open channel", is_public: true, handle: handle(), member_ids: [c.id] });
    const gone = await mk({ type: "group", title: "deleted", member_ids: [b.id, exMember.id] });
    const other = await mk({ type: "private", member_ids: [c.id] }, b);
    publicChats = new Set([pubGroup, pubChannel]);
    const send = (u: TestUser, chat: number, extra: Record<string, unknown> = {}) =>
      must(w("POST", "/messages", u.token, { chat_id: chat, text: unique("walk"), ...extra }), 201);
    for (const chat of [priv, saved, group, channel, pubGroup, pubChannel, gone, other]) {
      const author = chat === other ? b : a;
      const root = await send(author, chat);
      const reply = await send(author, chat, { reply_to_message_id: root });
      await send(author, chat, { reply_to_message_id: reply });
      const doomed = await send(author, chat);
      const reacted = await w("POST", `/messages/${root}/reactions/toggle`, author.token, { emoji: "🔥" });
      if (reacted.status !== 200) throw new Error(`toggle: ${reacted.status}`);
      const del = await w("DELETE", `/messages/${doomed}?for_all=true`, author.token);
      if (del.status !== 204) throw new Error(`delete: ${del.status}`);
    }
    // An attachment in the closed group.
    const bytes = new TextEncoder().encode("walk file");
    const ticket = await w("POST", "/media/upload-url", a.token, { file_name: "w.txt", file_type: "text/plain", file_size: bytes.byteLength });
    await fetch(strField(ticket.body, "upload_url"), { method: "PUT", headers: field(ticket.body, "required_headers") as Record<string, string>, body: bytes });
    const img = await send(a, group);
    const att = await w("POST", "/media/attachments", a.token, { message_id: img, file_url: strField(ticket.body, "file_url"), file_type: "text/plain", file_size: bytes.byteLength });
    if (att.status !== 200) throw new Error(`attach: ${att.status} ${att.text}`);
    // exMember leaves the closed chats; `gone` is deleted for everyone.
    for (const chat of [group, channel]) if ((await w("POST", `/chats/${chat}/leave`, exMember.token)).status !== 204) throw new Error("leave");
    if ((await w("DELETE", `/chats/${gone}?for_all=true`, a.token)).status !== 204) throw new Error("delete chat");

    walkers = [];
    for (const [name, user] of [["stranger", stranger], ["ex-member", exMember]] as const) {
      const own = await must(w("GET", "/chats/saved", user.token));
      const wb = new TextEncoder().encode(`walker ${name}`);
      const t = await w("POST", "/media/upload-url", user.token, { file_name: "w.txt", file_type: "text/plain", file_size: wb.byteLength });
      await fetch(strField(t.body, "upload_url"), { method: "PUT", headers: field(t.body, "required_headers") as Record<string, string>, body: wb });
      const ownMessage = await send(user, own);
      walkers.push({ name, user, saved: own, own: ownMessage, file: { file_url: strField(t.body, "file_url"), file_type: "text/plain", file_size: wb.byteLength } });
    }
    const probe = await w("GET", "/chats/saved", c.token);
    maxChat = numField(probe.body, "id");
    const lastMsg = await send(c, maxChat);
    maxMessage = lastMsg;
  });
  afterAll(() => walkServer.stop());

  test("only answers identical to a missing id's", async () => {
    const w = (method: Method, path: string, token?: string, body?: unknown) => api<unknown>(walkServer.url, method, path, { token, body });
    type Probe = { name: string; space: "chat" | "message"; notFound?: false; run: (id: number, walker: (typeof walkers)[number]) => Promise<Res> };
    const t = (x: (typeof walkers)[number]) => x.user.token;
    const probes: Probe[] = [
      ...(
        [
          ["GET", "/chats/{id}"],
          ["GET", "/chats/{id}/members"],
          ["POST", "/chats/{id}/join"],
          ["POST", "/chats/{id}/leave"],
          ["DELETE", "/chats/{id}?for_all=true"],
          ["DELETE", "/chats/{id}?for_all=false"],
          ["POST", "/chats/{id}/clear"],
          ["GET", "/chats/{id}/notifications"],
          ["POST", "/chats/{id}/archive"],
          ["POST", "/chats/{id}/unarchive"],
          ["POST", "/chats/{id}/pin-chat"],
          ["POST", "/chats/{id}/unpin-chat"],
          ["POST", "/chats/{id}/invite-link"],
          ["GET", "/messages/{id}"],
          ["GET", "/media/chats/{id}/attachments"],
        ] as const
      ).map(([m, p]): Probe => ({ name: `${m} ${p}`, space: "chat", run: (id, x) => w(m, p.replace("{id}", String(id)), t(x)) })),
      { name: "PATCH /chats/{id}/title", space: "chat", run: (id, x) => w("PATCH", `/chats/${id}/title`, t(x), { title: "x" }) },
      { name: "PATCH /chats/{id}/profile", space: "chat", run: (id, x) => w("PATCH", `/chats/${id}/profile`, t(x), { description: "x" }) },
      { name: "POST /chats/{id}/members", space: "chat", run: (id, x) => w("POST", `/chats/${id}/members`, t(x), { user_id: someone.id }) },
      { name: "PATCH /chats/{id}/members/{uid}/role", space: "chat", run: (id, x) => w("PATCH", `/chats/${id}/members/${someone.id}/role`, t(x), { role: "admin" }) },
      { name: "DELETE /chats/{id}/members/{uid}", space: "chat", run: (id, x) => w("DELETE", `/chats/${id}/members/${someone.id}`, t(x)) },
      { name: "POST /chats/{id}/pin", space: "chat", run: (id, x) => w("POST", `/chats/${id}/pin`, t(x), { message_id: 1 }) },
      { name: "PUT /chats/{id}/notifications", space: "chat", run: (id, x) => w("PUT", `/chats/${id}/notifications`, t(x), { muted: true }) },
      { name: "POST /messages (chat_id)", space: "chat", run: (id, x) => w("POST", "/messages", t(x), { chat_id: id, text: unique("probe") }) },
      { name: "GET /messages/search?chat_id", space: "chat", run: (id, x) => w("GET", `/messages/search?query=walk&chat_id=${id}`, t(x)) },
      { name: "POST /messages/status (chat_id)", space: "chat", run: (id, x) => w("POST", "/messages/status", t(x), { chat_id: id, message_id: 1, status: "message_read" }) },
      { name: "POST /messages/{id}/forward (into own chat)", space: "chat", run: (id, x) => w("POST", `/messages/${x.own}/forward`, t(x), { target_chat_id: id }) },
      { name: "GET /messages/{id}/thread", space: "message", run: (id, x) => w("GET", `/messages/${id}/thread`, t(x)) },
      { name: "PUT /messages/{id}", space: "message", run: (id, x) => w("PUT", `/messages/${id}`, t(x), { text: "x" }) },
      { name: "DELETE /messages/{id}?for_all=true", space: "message", run: (id, x) => w("DELETE", `/messages/${id}?for_all=true`, t(x)) },
      { name: "DELETE /messages/{id}?for_all=false", space: "message", run: (id, x) => w("DELETE", `/messages/${id}?for_all=false`, t(x)) },
      { name: "POST /messages/{id}/forward", space: "message", run: (id, x) => w("POST", `/messages/${id}/forward`, t(x), { target_chat_id: x.saved }) },
      { name: "POST /messages/{id}/forward-bulk", space: "message", run: (id, x) => w("POST", `/messages/${id}/forward-bulk`, t(x), { target_chat_ids: [x.saved] }) },
      { name: "GET /messages/{id}/reactions", space: "message", run: (id, x) => w("GET", `/messages/${id}/reactions`, t(x)) },
      { name: "POST /messages/{id}/reactions/toggle", space: "message", run: (id, x) => w("POST", `/messages/${id}/reactions/toggle`, t(x), { emoji: "👍" }) },
      { name: "POST /media/attachments (message_id)", space: "message", run: (id, x) => w("POST", "/media/attachments", t(x), { message_id: id, ...x.file }) },
      { name: "POST /chats/{own}/pin (message_id)", space: "message", notFound: false, run: (id, x) => w("POST", `/chats/${x.saved}/pin`, t(x), { message_id: id }) },
      {
        name: "POST /messages (reply_to_message_id)",
        space: "message",
        notFound: false,
        run: (id, x) => w("POST", "/messages", t(x), { chat_id: x.saved, text: unique("reply"), reply_to_message_id: id }),
      },
      { name: "POST /messages/status (message_id, own chat)", space: "message", notFound: false, run: (id, x) => w("POST", "/messages/status", t(x), { chat_id: x.saved, message_id: id, status: "message_read" }) },
    ];
    const leaks: string[] = [];
    let requests = 0;
    // The stranger walks every probe over 1..max+50; the ex-member (who left two closed chats)
    // walks the reading and message probes over the ids that exist, to keep the run short.
    const exMemberProbes = new Set(["GET /chats/{id}", "GET /chats/{id}/members", "GET /messages/{id}", "GET /media/chats/{id}/attachments", "POST /chats/{id}/clear", "GET /messages/{id}/thread", "PUT /messages/{id}", "DELETE /messages/{id}?for_all=false", "GET /messages/{id}/reactions", "POST /messages/{id}/reactions/toggle", "POST /messages/{id}/forward"]);
    for (const walker of walkers) {
      const full = walker.name === "stranger";
      const own = new Set([walker.saved]);
      const ownMessages = new Set([walker.own]);
      for (const probe of probes) {
        if (!full && !exMemberProbes.has(probe.name)) continue;
        const missing = await probe.run(MISSING, walker);
        const top = (probe.space === "chat" ? maxChat : maxMessage) + (full ? 50 : 0);
        const ids = Array.from({ length: top }, (_, i) => i + 1).filter((id) => (probe.space === "chat" ? !publicChats.has(id) && !own.has(id) : !ownMessages.has(id)));
        const answers = await Promise.all(ids.map((id) => probe.run(id, walker)));
        requests += answers.length;
        answers.forEach((r, i) => {
          if (r.status !== missing.status || r.text !== missing.text) leaks.push(`${walker.name} ${probe.name} id=${ids[i]}: ${r.status} ${r.text.slice(0, 100)} (missing: ${missing.status} ${missing.text})`);
        });
        if (probe.notFound !== false && missing.status !== 404) leaks.push(`${walker.name} ${probe.name}: a missing id answers ${missing.status} ${missing.text}`);
      }
    }
    console.log(`id walk: ${requests} requests (chats 1..${maxChat + 50}, messages 1..${maxMessage + 50})`);
    expect(leaks).toEqual([]);
  });
});
