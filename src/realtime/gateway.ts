/**
 * The WebSocket gateway of CONTRACT §8 on Bun.serve (uWebSockets inside). Invariants:
 *
 * - Order: durable events reach sockets only through the tailer (tailer.ts), which delivers each
 *   batch synchronously in log order: to the Bun topic `chat:<id>` (a big chat costs one publish
 *   per instance) or straight to a user's live sockets (no topic per user: each subscription costs
 *   every socket memory; uWS drains a socket's pending topic frames before a direct send, so the
 *   two keep their order). Membership changes (a user-level `chat_updated` subscribes the user's
 *   sockets to `chat:<id>`, a user-level `chat_deleted` unsubscribes them) are applied in the same
 *   synchronous pass, before later events are published, so a removed member gets nothing more.
 * - No gap, no duplicate on resume: a socket replays (since, tailer.cursor] from the database and
 *   subscribes only when, checked synchronously after the replay, the cursor has not moved (else it
 *   replays the new range and checks again). Fresh sockets get `ready` with the position to resume
 *   from; resumed ones get it after their replay.
 * - Backpressure: a socket over `backpressureLimit` is closed (closeOnBackpressureLimit), never
 *   silently skipped; replays wait for `drain`. The client resumes with `since=`.
 * - Ephemeral frames (typing, presence) are not logged: they go to local sockets and, through the
 *   broker channel `realtime:ephemeral`, to the same targets on the other instances.
 * - A connect storm shares round trips: member chats, presence leases and announcements are read
 *   and written for every socket that connects meanwhile at once (coalesce.ts).
 * - A revoked session's sockets close (4001) on the `sessions:revoked` broker message, and a
 *   periodic check of the session rows catches a lost message.
 */
import type { Server, ServerWebSocket, WebSocketHandler } from "bun";
import { and, eq, gt, sql } from "drizzle-orm";
import type { App } from "../app";
import { authenticateAccessToken, bearerToken } from "../auth/authenticate";
import { revokedSessionIds, SESSIONS_REVOKED_CHANNEL } from "../auth/revocation";
import { prepared } from "../db/prepared";
import { queryRows } from "../db/client";
import { sessions } from "../db/schema";
import { intArray } from "../db/sql-fragments";
import { AppError } from "../errors";
import { errorResponse } from "../http/respond";
import { findMembership } from "../routers/chats/access";
import { updateMessageStatus } from "../routers/messages/service";
import { Coalescer } from "./coalesce";
import type { LoggedEvent } from "./event-types";
import { encodeEphemeral, encodeEvent, errorFrame, parseClientFrame, type TClientFrame } from "./frames";
import { chatIdOf, isPersonal, personalize, personalizeFor, PERSONAL_FANOUT_LIMIT, type PersonalData } from "./personalize";
import { PresenceTracker } from "./presence";
import { EVENT_RETENTION_DAYS, pruneEventLog, readVisible, resumeIsImpossible } from "./replay";
import { Tailer } from "./tailer";

/**
 * What each socket keeps for its whole life: small on purpose (an idle connection's memory is
 * mostly this plus Bun's own per-socket state). Flat values only; the presence member string and
 * the drain waiters exist only while needed.
 */
export interface SocketData {
  userId: number;
  sessionId: string;
  /** Number of this connection on this instance (its presence member is `<instance>:<connNo>`). */
  connNo: number;
  /** Resume position from `since=`, or null for a fresh connection. */
  since: number | null;
  /** Subscribed to its topics (after replay). */
  live: boolean;
  closed: boolean;
  /** Replays waiting for `drain`; null while none waits. */
  drainWaiters: (() => void)[] | null;
}

type Ws = ServerWebSocket<SocketData>;

export interface Gateway {
  /** Handles GET /ws: upgrades (answers undefined) or answers an HTTP error. */
  upgrade(req: Request, url: URL, server: Server<SocketData>): Promise<Response | undefined>;
  websocket: WebSocketHandler<SocketData>;
  /** Called once the server listens, to start tailers and timers. */
  start(server: Server<SocketData>): Promise<void>;
}

export const EPHEMERAL_CHANNEL = "realtime:ephemeral";
export const CLOSE_SESSION_REVOKED = 4001;
export const CLOSE_BACKPRESSURE = 4008;
const REPLAY_PAGE = 500;
/** How long `ready` waits for the presence lease at most. */
const LEASE_WAIT_MS = 1000;
const TYPING_INTERVAL_SECONDS = 2;
const SESSION_CHECK_MS = 5000;
const SESSION_CHECK_CHUNK = 5000;
const PRUNE_INTERVAL_MS = 3600 * 1000;

/** Resolves when `p` does or after `ms`, whichever comes first. */
function atMost(p: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const elapsed = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([p, elapsed]).finally(() => clearTimeout(timer));
}

/** Ephemeral targets, as carried on the broker channel: a user's sockets, or a chat's topic. */
const userTarget = (userId: number) => `user:${userId}`;
const chatTopic = (chatId: number) => `chat:${chatId}`;
const USER_TARGET = /^user:(\d+)$/;

/** One user's open sockets on this instance, and the chats their live sockets subscribe to. */
interface LocalUser {
  sockets: Ws[];
  /** Sockets of `sockets` that are live (subscribed). */
  live: number;
  /**
   * Chats whose topic the live sockets subscribe to; empty while none is live. An array (a few
   * bytes per chat, where a Set costs hundreds per user): lookups by chat go through `chatUsers`.
   */
  chats: number[];
}

export function createGateway(app: App): Gateway {
  let server: Server<SocketData> | null = null;
  /** Every open socket, by user (sessions are found by a scan: revocations are rare). */
  const localUsers = new Map<number, LocalUser>();
  /** Users with live sockets here subscribed to the chat's topic. */
  const chatUsers = new Map<number, Set<number>>();
  let nextConnNo = 1;
  const pendingWork = new Set<Promise<unknown>>();
  const timers: ReturnType<typeof setInterval>[] = [];
  const unsubscribers: (() => Promise<void>)[] = [];
  let stopped = false;

  const track = (p: Promise<unknown>) => {
    const q = p.catch((err: unknown) => {
      if (!stopped) app.log.warn("realtime task failed", { error: String(err) });
    });
    pendingWork.add(q);
    void q.finally(() => pendingWork.delete(q));
  };

  const publish = (topic: string, frame: string) => {
    server?.publish(topic, frame);
  };

  /** A frame to the user's live sockets here, in the order of the calls (like a topic publish). */
  function sendToUser(userId: number, frame: string) {
    const local = liveUser(userId);
    if (local) for (const ws of local.sockets) if (ws.data.live) send(ws, frame);
  }

  /** A target (`user:<id>` or a chat topic) on this instance; `except` (the sender) is skipped. */
  function deliverLocal(target: string, frame: string, except?: Ws) {
    const user = USER_TARGET.exec(target);
    if (user) sendToUser(Number(user[1]), frame);
    // A sender subscribed to nothing cannot publish (uWS): it would not hear its own frame anyway.
    else if (except?.isSubscribed(target)) except.publish(target, frame);
    else publish(target, frame);
  }

  /** Ephemeral frames to targets on every instance, in one broker message; `except` is skipped locally. */
  function publishEphemeral(items: { targets: string[]; frame: string }[], except?: Ws) {
    for (const { targets, frame } of items) for (const t of targets) deliverLocal(t, frame, except);
    track(app.broker.publish(EPHEMERAL_CHANNEL, JSON.stringify({ origin: app.instanceId, items })));
  }

  const presence = new PresenceTracker(app, (announcements) => {
    publishEphemeral(announcements.map((a) => ({ targets: a.audience.map(userTarget), frame: encodeEphemeral("presence", a.data) })));
  });

  function addToSet<K, V>(map: Map<K, Set<V>>, key: K, value: V) {
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    set.add(value);
  }
  function removeFromSet<K, V>(map: Map<K, Set<V>>, key: K, value: V) {
    const set = map.get(key);
    if (!set) return;
    set.delete(value);
    if (set.size === 0) map.delete(key);
  }

  /** The user's local state while they have a live socket here, else undefined. */
  function liveUser(userId: number): LocalUser | undefined {
    const local = localUsers.get(userId);
    return local && local.live > 0 ? local : undefined;
  }

  /** (user, presence member) of every open socket, without building a list first (heartbeat). */
  function* openConnections(): Generator<{ userId: number; member: string }> {
    for (const [userId, local] of localUsers) for (const ws of local.sockets) yield { userId, member: member(ws) };
  }

  function openSockets(): Ws[] {
    const all: Ws[] = [];
    for (const local of localUsers.values()) for (const ws of local.sockets) all.push(ws);
    return all;
  }

  function joinChat(userId: number, chatId: number) {
    const local = liveUser(userId);
    if (!local) return;
    if (chatUsers.get(chatId)?.has(userId)) return;
    local.chats.push(chatId);
    addToSet(chatUsers, chatId, userId);
    const topic = chatTopic(chatId);
    for (const ws of local.sockets) if (ws.data.live) ws.subscribe(topic);
  }

  function leaveChat(userId: number, chatId: number) {
    const local = localUsers.get(userId);
    if (!local || !chatUsers.get(chatId)?.has(userId)) return;
    local.chats.splice(local.chats.indexOf(chatId), 1);
    removeFromSet(chatUsers, chatId, userId);
    const topic = chatTopic(chatId);
    for (const ws of local.sockets) if (ws.data.live) ws.unsubscribe(topic);
  }

  /** Receivers of a personal frame on this instance, or null when one shared publish is used. */
  function personalReceivers(e: LoggedEvent): number[] | null {
    if (!isPersonal(e)) return null;
    if (e.chatId !== null) {
      const local = chatUsers.get(e.chatId);
      if (!local || local.size === 0 || local.size > PERSONAL_FANOUT_LIMIT) return null;
      return [...local];
    }
    return e.userId !== null && liveUser(e.userId) ? [e.userId] : null;
  }

  const tailer: Tailer<PersonalData> = new Tailer<PersonalData>(app, {
    async prepare(events) {
      const wanted: { event: LoggedEvent; userIds: number[] }[] = [];
      for (const event of events) {
        const userIds = personalReceivers(event);
        if (userIds) wanted.push({ event, userIds });
      }
      if (wanted.length === 0) return new Map();
      try {
        return await personalize(app, wanted, tailer.counters);
      } catch (err) {
        // Receivers then get the shared frame; absolute counters heal on the next event.
        app.log.warn("personal event data failed", { error: String(err) });
        return new Map();
      }
    },
    deliver(events, personal) {
      for (const e of events) {
        if (e.chatId !== null) {
          const local = chatUsers.get(e.chatId);
          if (isPersonal(e) && local && local.size > 0 && local.size <= PERSONAL_FANOUT_LIMIT) {
            const perUser = personal.get(e.seq);
            for (const u of local) sendToUser(u, encodeEvent(e, perUser?.get(u) ?? e.data));
          } else {
            publish(chatTopic(e.chatId), encodeEvent(e));
          }
          if (e.type === "chat_deleted") for (const u of [...(local ?? [])]) leaveChat(u, e.chatId);
        } else if (e.userId !== null && liveUser(e.userId)) {
          sendToUser(e.userId, encodeEvent(e, personal.get(e.seq)?.get(e.userId) ?? e.data));
          const chatId = chatIdOf(e);
          if (chatId !== null && e.type === "chat_updated") joinChat(e.userId, chatId);
          if (chatId !== null && e.type === "chat_deleted") leaveChat(e.userId, chatId);
        }
      }
    },
  });

  function send(ws: Ws, frame: string): void {
    if (ws.data.closed) return;
    if (ws.send(frame) === 0) ws.close(CLOSE_BACKPRESSURE, "Too slow: resume with since=");
  }

  /** Sends a replay frame, waiting for drain under backpressure; false when the socket is gone. */
  async function sendReplay(ws: Ws, frame: string): Promise<boolean> {
    if (ws.data.closed) return false;
    const result = ws.send(frame);
    if (result === 0) {
      ws.close(CLOSE_BACKPRESSURE, "Too slow: resume with since=");
      return false;
    }
    if (result === -1) await new Promise<void>((resolve) => (ws.data.drainWaiters ??= []).push(resolve));
    return !ws.data.closed;
  }

  /** Chat ids of each user: one statement for every socket connecting meanwhile. */
  const memberChats = new Coalescer<number, number[]>(async (userIds) => {
    const rows = await queryRows<{ user_id: number; chat_id: number }>(
      app.db,
      sql`select user_id, chat_id from chat_members where user_id = any(${intArray([...new Set(userIds)])}::int[])`,
    );
    const byUser = new Map<number, number[]>();
    for (const r of rows) {
      const u = Number(r.user_id);
      const list = byUser.get(u);
      if (list) list.push(Number(r.chat_id));
      else byUser.set(u, [Number(r.chat_id)]);
    }
    return userIds.map((u) => byUser.get(u) ?? []);
  });
  const memberChatIds = (userId: number) => memberChats.run(userId);

  function activate(ws: Ws, chats: number[]) {
    const { userId } = ws.data;
    const local = localUsers.get(userId);
    if (!local) return;
    ws.data.live = true;
    local.live++;
    for (const c of local.chats) ws.subscribe(chatTopic(c));
    for (const c of chats) joinChat(userId, c);
  }

  /**
   * Replays what the socket missed, then subscribes it with no gap and no duplicate. `leased`: the
   * connection's presence lease (taken in parallel), so a socket is reported online once `ready`.
   */
  async function goLive(ws: Ws, leased: Promise<void>): Promise<void> {
    const { userId } = ws.data;
    let from = ws.data.since;
    if (from !== null && (await resumeIsImpossible(app.db, from))) {
      send(ws, encodeEphemeral("resync_required", { seq: tailer.cursor, detail: "Events since this position are no longer kept: reload your state" }));
      from = null;
    }
    for (;;) {
      if (ws.data.closed || stopped) return;
      const target = tailer.cursor;
      const start = from ?? target;
      const chats = await memberChatIds(userId);
      let at = start;
      while (at < target) {
        const page = await readVisible(app.db, userId, at, target, REPLAY_PAGE);
        const personal = page.length ? await personalizeFor(app, userId, page) : new Map();
        for (const e of page) if (!(await sendReplay(ws, encodeEvent(e, personal.get(e.seq) ?? e.data)))) return;
        const last = page[page.length - 1];
        at = page.length < REPLAY_PAGE || !last ? target : last.seq;
      }
      await leased;
      if (ws.data.closed || stopped) return;
      // No await between this check and the subscription: the tailer cannot publish in between.
      if (tailer.cursor === target) {
        activate(ws, chats);
        send(ws, encodeEphemeral("ready", { seq: target }));
        return;
      }
      from = target;
    }
  }

  async function onClientFrame(ws: Ws, frame: TClientFrame): Promise<void> {
    const { userId } = ws.data;
    switch (frame.type) {
      case "ping":
        send(ws, encodeEphemeral("pong"));
        return;
      case "typing": {
        const member = chatUsers.get(frame.chat_id)?.has(userId) || (await findMembership(app.db, frame.chat_id, userId)) !== undefined;
        if (!member) {
          send(ws, errorFrame("Chat not found"));
          return;
        }
        const fresh = await app.broker.setIfAbsent(`typing:${userId}:${frame.chat_id}`, "1", TYPING_INTERVAL_SECONDS);
        if (!fresh || ws.data.closed) return;
        publishEphemeral([{ targets: [chatTopic(frame.chat_id)], frame: encodeEphemeral("typing", { chat_id: frame.chat_id, user_id: userId }) }], ws);
        return;
      }
      case "message_delivered":
      case "message_read":
        await updateMessageStatus(app, userId, { chat_id: frame.chat_id, message_id: frame.message_id, status: frame.type });
        return;
    }
  }

  function closeSessions(ids: readonly string[]) {
    if (ids.length === 0) return;
    const revoked = new Set(ids);
    const doomed = openSockets().filter((ws) => revoked.has(ws.data.sessionId));
    for (const ws of doomed) ws.close(CLOSE_SESSION_REVOKED, "Session revoked");
  }

  async function checkSessions(): Promise<void> {
    const ids = [...new Set(openSockets().map((ws) => ws.data.sessionId))];
    if (ids.length === 0) return;
    const alive = new Set<string>();
    for (let i = 0; i < ids.length; i += SESSION_CHECK_CHUNK) {
      // One parameter (a JSON array) per chunk: a prepared statement, not thousands of placeholders.
      const rows = await prepared(app.db, "ws_live_sessions", (db) =>
        db
          .select({ id: sessions.id })
          .from(sessions)
          .where(and(sql`${sessions.id} in (select jsonb_array_elements_text(${sql.placeholder("ids")}::jsonb))`, gt(sessions.expiresAt, sql`now()`)))
          .prepare("ws_live_sessions"),
      ).execute({ ids: JSON.stringify(ids.slice(i, i + SESSION_CHECK_CHUNK)) });
      for (const r of rows) alive.add(r.id);
    }
    closeSessions(ids.filter((id) => !alive.has(id)));
  }

  const member = (ws: Ws) => `${app.instanceId}:${ws.data.connNo}`;

  const websocket: WebSocketHandler<SocketData> = {
    maxPayloadLength: 64 * 1024,
    idleTimeout: 60,
    sendPings: true,
    backpressureLimit: 4 * 1024 * 1024,
    closeOnBackpressureLimit: true,
    perMessageDeflate: false,
    open(ws) {
      if (stopped) {
        ws.close(1001, "Server stopping");
        return;
      }
      const local = localUsers.get(ws.data.userId);
      if (local) local.sockets.push(ws);
      else localUsers.set(ws.data.userId, { sockets: [ws], live: 0, chats: [] });
      // Presence fails open: without the broker, or with a hung one, the socket still goes live.
      const leased = presence.connected(ws.data.userId, member(ws)).catch((err: unknown) => {
        if (!stopped) app.log.warn("presence lease failed", { user_id: ws.data.userId, error: String(err) });
      });
      track(goLive(ws, atMost(leased, LEASE_WAIT_MS)));
    },
    message(ws, raw) {
      const parsed = parseClientFrame(raw);
      if ("error" in parsed) {
        send(ws, errorFrame(parsed.error));
        return;
      }
      track(
        onClientFrame(ws, parsed.frame).catch((err: unknown) => {
          if (err instanceof AppError) send(ws, errorFrame(err.message));
          else {
            app.log.error("client frame failed", { user_id: ws.data.userId, type: parsed.frame.type, error: String(err) });
            send(ws, errorFrame("Internal server error"));
          }
        }),
      );
    },
    drain(ws) {
      const waiters = ws.data.drainWaiters;
      ws.data.drainWaiters = null;
      for (const w of waiters ?? []) w();
    },
    close(ws) {
      const { userId } = ws.data;
      ws.data.closed = true;
      const waiters = ws.data.drainWaiters;
      ws.data.drainWaiters = null;
      for (const w of waiters ?? []) w();
      const local = localUsers.get(userId);
      if (local) {
        const i = local.sockets.indexOf(ws);
        if (i >= 0) local.sockets.splice(i, 1);
        if (ws.data.live && --local.live === 0) {
          for (const c of local.chats) removeFromSet(chatUsers, c, userId);
          local.chats = [];
        }
        if (local.sockets.length === 0) localUsers.delete(userId);
      }
      track(presence.disconnected(userId, member(ws), !localUsers.has(userId)));
    },
  };

  const allowedOrigins = app.config.WS_ALLOWED_ORIGINS?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);

  return {
    websocket,
    async upgrade(req, url, srv) {
      if (req.method !== "GET") return errorResponse(405, "Method not allowed");
      const origin = req.headers.get("origin");
      if (allowedOrigins && allowedOrigins.length > 0 && origin && !allowedOrigins.includes(origin)) return errorResponse(403, "Origin not allowed");
      const token = url.searchParams.get("token") ?? bearerToken(req.headers.get("authorization"));
      if (!token) return errorResponse(401, "Not authenticated");
      const sinceRaw = url.searchParams.get("since");
      if (sinceRaw !== null && !/^\d{1,15}$/.test(sinceRaw)) return errorResponse(422, "since: must be a non-negative integer");
      const user = await authenticateAccessToken(app, token);
      if (!user) return errorResponse(401, "Invalid or expired token");
      const data: SocketData = {
        userId: user.id,
        sessionId: user.sessionId,
        connNo: nextConnNo++,
        since: sinceRaw === null ? null : Number(sinceRaw),
        live: false,
        closed: false,
        drainWaiters: null,
      };
      if (srv.upgrade(req, { data })) return undefined;
      return errorResponse(400, "Expected a WebSocket upgrade");
    },
    async start(srv) {
      server = srv;
      await tailer.start();
      unsubscribers.push(
        await app.broker.subscribe(EPHEMERAL_CHANNEL, (message) => {
          try {
            const m = JSON.parse(message) as { origin?: string; items?: unknown; topics?: unknown; frame?: unknown };
            if (m.origin === app.instanceId) return;
            // `{topics, frame}`: one frame, as instances before batching sent it.
            const items = Array.isArray(m.items) ? (m.items as unknown[]) : [{ targets: m.topics, frame: m.frame }];
            for (const item of items) {
              const { targets, frame } = (item ?? {}) as { targets?: unknown; frame?: unknown };
              if (!Array.isArray(targets) || typeof frame !== "string") continue;
              for (const t of targets) if (typeof t === "string") deliverLocal(t, frame);
            }
          } catch {
            app.log.warn("malformed ephemeral realtime message");
          }
        }),
      );
      unsubscribers.push(
        await app.broker.subscribe(SESSIONS_REVOKED_CHANNEL, (message) => {
          const ids = revokedSessionIds(message);
          if (ids) closeSessions(ids);
          else app.log.warn("malformed sessions:revoked message");
        }),
      );
      const heartbeatSeconds = Math.max(1, Math.floor(app.config.PRESENCE_LEASE_SECONDS / 3));
      timers.push(
        setInterval(() => {
          track(presence.refresh(openConnections()));
          track(presence.sweep(heartbeatSeconds));
        }, heartbeatSeconds * 1000),
      );
      timers.push(setInterval(() => track(checkSessions()), SESSION_CHECK_MS));
      const prune = async () => {
        if (!(await app.broker.setIfAbsent("event-log:prune", app.instanceId, PRUNE_INTERVAL_MS / 1000 - 60))) return;
        const through = await pruneEventLog(app.db, new Date(Date.now() - EVENT_RETENTION_DAYS * 24 * 3600 * 1000));
        if (through > 0) app.log.info("event log pruned", { through });
      };
      timers.push(setInterval(() => track(prune()), PRUNE_INTERVAL_MS));
      track(prune());
      app.onClose(async () => {
        stopped = true;
        for (const t of timers) clearInterval(t);
        presence.stop();
        await tailer.stop();
        for (const u of unsubscribers) await u().catch(() => {});
        for (const ws of openSockets()) ws.close(1001, "Server stopping");
        await Promise.all([...pendingWork]);
      });
    },
  };
}
