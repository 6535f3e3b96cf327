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
 *   replays the new range and checks again; after two misses it is caught up under a tailer hold).
 *   Fresh sockets get `ready` with the position to resume from; resumed ones get it after their
 *   replay.
 * - Backpressure: a socket over `backpressureLimit` is closed (closeOnBackpressureLimit), never
 *   silently skipped; replays wait for `drain`. The client resumes with `since=`.
 * - Ephemeral frames (typing, presence) are not logged: they go to local sockets and, through the
 *   broker channel `realtime:ephemeral`, to the same targets on the other instances.
 * - A connect storm shares round trips: member chats, presence leases and announcements are read
 *   and written for every socket that connects meanwhile at once (coalesce.ts).
 * - A revoked session's sockets close (4001) on the `sessions:revoked` broker message, and a
 *   periodic check of the session rows catches a lost message.
 * - An idle socket owns no JavaScript object besides Bun's wrapper: its state is a slot of flat
 *   arrays (socket-table.ts) and the chats it follows are cells of local-members.ts, because
 *   objects kept from a connect storm pin heap blocks that are otherwise garbage.
 */
import type { Server, ServerWebSocket, WebSocketHandler } from "bun";
import { sql } from "drizzle-orm";
import type { App } from "../app";
import { authenticateAccessToken, bearerToken } from "../auth/authenticate";
import { revokedSessionIds, SESSIONS_REVOKED_CHANNEL } from "../auth/revocation";
import { prepared } from "../db/prepared";
import { queryRows } from "../db/client";
import { sessions } from "../db/schema";
import { intArray } from "../db/sql-fragments";
import { AppError } from "../errors";
import { errorResponse } from "../http/respond";
import { isUnavailableOrWraps } from "../trpc";
import { findMembership, requireMember } from "../routers/chats/access";
import { requireCanPost } from "../routers/messages/compose";
import { updateMessageStatus } from "../routers/messages/service";
import { Coalescer } from "./coalesce";
import type { LoggedEvent } from "./event-types";
import { ClientFrameQueue } from "./frame-queue";
import {
  CLIENT_FRAMES_WAITING,
  encodeEphemeral,
  encodeEvent,
  errorFrame,
  mergeQueuedFrames,
  parseClientFrame,
  queuedFrame,
  type QueuedClientFrame,
  type TClientFrame,
} from "./frames";
import { chatIdOf, isPersonal, personalize, personalizeFor, PERSONAL_FANOUT_LIMIT, type PersonalData } from "./personalize";
import { PresenceTracker } from "./presence";
import { EVENT_RETENTION_DAYS, pruneEventLog, readVisible, resumeRefusal } from "./replay";
import { LocalMembers } from "./local-members";
import { SocketTable } from "./socket-table";
import { unseenBy } from "./unseen-messages";
import { Tailer } from "./tailer";

/** What the upgrade learnt, handed to `open` (and dropped there). */
export interface Handshake {
  userId: number;
  sessionId: string;
  /** Resume position from `since=`, or null for a fresh connection. */
  since: number | null;
}

/**
 * `ws.data`: the handshake until `open`, then the socket's slot in the gateway's socket table (a
 * number, so an idle socket keeps no object of its own: socket-table.ts).
 */
export type SocketData = Handshake | number;

type Ws = ServerWebSocket<SocketData>;

/** The slot of an open socket (`open` replaced the handshake by it). */
const slotOf = (ws: Ws): number => ws.data as number;

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
export const CLOSE_TOO_MANY_SOCKETS = 4029;
const TOO_MANY_SOCKETS = "Too many connections for this user";
const REPLAY_PAGE = 500;
/** Replays that may miss a moving cursor before the socket is caught up under a tailer hold. */
const CHASE_ATTEMPTS = 2;
/** How long `ready` waits for the presence lease at most. */
const LEASE_WAIT_MS = 1000;
const TYPING_INTERVAL_SECONDS = 2;
const SESSION_CHECK_MS = 5000;
const SESSION_CHECK_CHUNK = 5000;
const PRUNE_INTERVAL_MS = 3600 * 1000;
/** At shutdown, how long to wait for closing sockets' close handlers (they announce presence). */
const SHUTDOWN_CLOSE_WAIT_MS = 2000;

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

export function createGateway(app: App): Gateway {
  let server: Server<SocketData> | null = null;
  /** Every open socket, by user (sessions are found by a scan: revocations are rare). */
  const table = new SocketTable<Ws>();
  /** Chats whose topic a user's live sockets subscribe to, while the user has a live socket here. */
  const members = new LocalMembers();
  /** Replays waiting for `drain`, by slot (only while one waits). */
  const drainWaiters = new Map<number, (() => void)[]>();
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
    forLiveSockets(userId, (ws) => send(ws, frame));
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

  /** True while the user has a live socket here. */
  const isLiveUser = (userId: number) => table.liveCount(userId) > 0;

  /** (user, presence member) of every open socket, without building a list first (heartbeat). */
  function* openConnections(): Generator<{ userId: number; member: string }> {
    for (const s of table.slots()) yield { userId: table.userId(s), member: memberOf(s) };
  }

  function openSockets(): Ws[] {
    const all: Ws[] = [];
    for (const s of table.slots()) {
      const ws = table.socket(s);
      if (ws) all.push(ws);
    }
    return all;
  }

  /** Calls `f` for each of the user's live sockets here. */
  function forLiveSockets(userId: number, f: (ws: Ws) => void) {
    for (let s = table.first(userId); s >= 0; s = table.next(s)) {
      const ws = table.socket(s);
      if (ws && table.isLive(s)) f(ws);
    }
  }

  function joinChat(userId: number, chatId: number) {
    if (!isLiveUser(userId)) return;
    if (!members.add(chatId, userId)) return;
    const topic = chatTopic(chatId);
    forLiveSockets(userId, (ws) => ws.subscribe(topic));
  }

  function leaveChat(userId: number, chatId: number) {
    if (!members.remove(chatId, userId)) return;
    const topic = chatTopic(chatId);
    forLiveSockets(userId, (ws) => ws.unsubscribe(topic));
  }

  /** What the tailer prepares for a batch: per-receiver data, and who must not get an event. */
  interface Prepared {
    personal: PersonalData;
    unseen: Map<number, Set<number>>;
  }

  /**
   * Receivers of a personal frame on this instance, or null when one shared publish is used.
   * `joining`: live users whose user-level chat_updated earlier in the same batch subscribes them to
   * this chat when it is delivered (a private chat coming back), so they are receivers already.
   */
  function personalReceivers(e: LoggedEvent, joining: ReadonlySet<number> | undefined): number[] | null {
    if (!isPersonal(e)) return null;
    if (e.chatId !== null) {
      const chatId = e.chatId;
      const extra = joining ? [...joining].filter((u) => !members.has(chatId, u)) : [];
      const local = members.count(chatId) + extra.length;
      return local === 0 || local > PERSONAL_FANOUT_LIMIT ? null : [...members.usersOf(chatId), ...extra];
    }
    return e.userId !== null && isLiveUser(e.userId) ? [e.userId] : null;
  }

  async function personalData(events: LoggedEvent[]): Promise<PersonalData> {
    const wanted: { event: LoggedEvent; userIds: number[] }[] = [];
    const joining = new Map<number, Set<number>>();
    for (const event of events) {
      const userIds = personalReceivers(event, event.chatId === null ? undefined : joining.get(event.chatId));
      if (userIds) wanted.push({ event, userIds });
      const joined = event.type === "chat_updated" && event.userId !== null && isLiveUser(event.userId) ? chatIdOf(event) : null;
      if (joined !== null && event.userId !== null) joining.set(joined, (joining.get(joined) ?? new Set()).add(event.userId));
    }
    if (wanted.length === 0) return new Map();
    try {
      return await personalize(app, wanted, tailer.counters);
    } catch (err) {
      // Receivers then get the shared frame; absolute counters heal on the next event.
      app.log.warn("personal event data failed", { error: String(err) });
      return new Map();
    }
  }

  const tailer: Tailer<Prepared> = new Tailer<Prepared>(app, {
    async prepare(events) {
      // A failure to tell who may not see a message fails the batch (the tailer reads it again):
      // sending it to everyone would show them what they deleted.
      const [personal, unseen] = await Promise.all([personalData(events), unseenBy(app, events.filter((e) => e.chatId !== null && members.count(e.chatId) > 0))]);
      return { personal, unseen };
    },
    deliver(events, { personal, unseen }) {
      for (const e of events) {
        if (e.chatId !== null) {
          const local = members.count(e.chatId);
          const skip = unseen.get(e.seq);
          if (skip && local > 0) {
            // An edit or reaction of a message some receivers deleted for themselves or cleared past.
            const frame = encodeEvent(e);
            for (const u of members.usersOf(e.chatId)) if (!skip.has(u)) sendToUser(u, frame);
          } else if (isPersonal(e) && local > 0 && local <= PERSONAL_FANOUT_LIMIT) {
            const perUser = personal.get(e.seq);
            for (const u of members.usersOf(e.chatId)) {
              const own = perUser?.get(u);
              // A chat_updated whose receiver has no view of the chat any more (just removed): the
              // replay leaves it out too. The shared data is only the fallback when personalizing failed.
              if (!own && perUser && e.type === "chat_updated") continue;
              sendToUser(u, encodeEvent(e, own ?? e.data));
            }
          } else {
            publish(chatTopic(e.chatId), encodeEvent(e));
          }
          if (e.type === "chat_deleted") for (const u of members.usersOf(e.chatId)) leaveChat(u, e.chatId);
        } else if (e.userId !== null && isLiveUser(e.userId)) {
          sendToUser(e.userId, encodeEvent(e, personal.get(e.seq)?.get(e.userId) ?? e.data));
          const chatId = chatIdOf(e);
          if (chatId !== null && e.type === "chat_updated") joinChat(e.userId, chatId);
          if (chatId !== null && e.type === "chat_deleted") leaveChat(e.userId, chatId);
        }
      }
    },
  });

  /** True once the socket closed (its slot may belong to another socket by now). */
  const isClosed = (ws: Ws) => !table.holds(slotOf(ws), ws);

  function send(ws: Ws, frame: string): void {
    if (isClosed(ws)) return;
    if (ws.send(frame) === 0) ws.close(CLOSE_BACKPRESSURE, "Too slow: resume with since=");
  }

  /** Sends a replay frame, waiting for drain under backpressure; false when the socket is gone. */
  async function sendReplay(ws: Ws, frame: string): Promise<boolean> {
    if (isClosed(ws)) return false;
    const result = ws.send(frame);
    if (result === 0) {
      ws.close(CLOSE_BACKPRESSURE, "Too slow: resume with since=");
      return false;
    }
    if (result === -1) {
      const slot = slotOf(ws);
      await new Promise<void>((resolve) => {
        const waiters = drainWaiters.get(slot);
        if (waiters) waiters.push(resolve);
        else drainWaiters.set(slot, [resolve]);
      });
    }
    return !isClosed(ws);
  }

  function wakeDrainWaiters(slot: number) {
    const waiters = drainWaiters.get(slot);
    if (!waiters) return;
    drainWaiters.delete(slot);
    for (const w of waiters) w();
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
    const slot = slotOf(ws);
    const userId = table.userId(slot);
    for (const c of members.chatsOf(userId)) ws.subscribe(chatTopic(c));
    table.setLive(slot);
    for (const c of chats) joinChat(userId, c);
  }

  /**
   * Replays what the socket missed, then subscribes it with no gap and no duplicate. `leased`: the
   * connection's presence lease (taken in parallel), so a socket is reported online once `ready`.
   * While messages flow, the cursor may move during every replay (each replay's database round
   * trips queue behind everyone else's in a reconnect storm); after CHASE_ATTEMPTS such misses the
   * socket is caught up while the tailer holds still (catchUpHeld).
   */
  async function goLive(ws: Ws, userId: number, since: number | null, leased: Promise<void>): Promise<void> {
    let from = since;
    const refusal = from === null ? null : await resumeRefusal(app.db, from);
    if (refusal !== null) {
      send(ws, encodeEphemeral("resync_required", { seq: tailer.cursor, detail: refusal }));
      from = null;
    }
    for (let attempt = 0; ; attempt++) {
      if (isClosed(ws) || stopped) return;
      if (attempt === CHASE_ATTEMPTS && from !== null) {
        await leased;
        return catchUpHeld(ws, userId, from);
      }
      const target = tailer.cursor;
      const start = from ?? target;
      const chats = await memberChatIds(userId);
      if (!(await replay(ws, userId, start, target, sendReplay))) return;
      await leased;
      if (isClosed(ws) || stopped) return;
      // No await between this check and the subscription: the tailer cannot publish in between.
      if (tailer.cursor === target) {
        activate(ws, chats);
        send(ws, encodeEphemeral("ready", { seq: target }));
        return;
      }
      from = target;
    }
  }

  /** Sends the socket's visible events in (from, to]; false once the socket is gone. */
  async function replay(ws: Ws, userId: number, from: number, to: number, sendOne: (ws: Ws, frame: string) => Promise<boolean>): Promise<boolean> {
    let at = from;
    while (at < to) {
      const page = await readVisible(app.db, userId, at, to, REPLAY_PAGE);
      const personal = page.length ? await personalizeFor(app, userId, page) : new Map();
      for (const e of page) if (!(await sendOne(ws, encodeEvent(e, personal.get(e.seq) ?? e.data)))) return false;
      const last = page[page.length - 1];
      at = page.length < REPLAY_PAGE || !last ? to : last.seq;
    }
    return true;
  }

  /** Sockets waiting for the next hold, and whether a hold is running. */
  let waitingForHold: { ws: Ws; userId: number; from: number; done: () => void; failed: (err: unknown) => void }[] = [];
  let holding = false;

  /**
   * Catches the socket up to the cursor and subscribes it while the tailer delivers nothing, so
   * the cursor cannot move in between. Every socket waiting meanwhile shares the next hold: one
   * pause of live delivery for the whole storm, not one per socket. Frames are sent without
   * waiting for drain (a socket that cannot take them is closed and resumes with since=), so one
   * slow reader cannot prolong the hold.
   */
  function catchUpHeld(ws: Ws, userId: number, from: number): Promise<void> {
    return new Promise<void>((done, failed) => {
      waitingForHold.push({ ws, userId, from, done, failed });
      if (!holding) void runHolds();
    });
  }

  async function runHolds(): Promise<void> {
    holding = true;
    try {
      while (waitingForHold.length > 0 && !stopped) {
        const batch = waitingForHold;
        waitingForHold = [];
        await tailer.hold(async () => {
          const target = tailer.cursor;
          await Promise.all(
            batch.map(async (w) => {
              try {
                if (isClosed(w.ws) || stopped) return w.done();
                const chats = await memberChatIds(w.userId);
                const sent = await replay(w.ws, w.userId, w.from, target, async (ws, frame) => (send(ws, frame), !isClosed(ws)));
                if (sent && !isClosed(w.ws) && !stopped) {
                  activate(w.ws, chats);
                  send(w.ws, encodeEphemeral("ready", { seq: target }));
                }
                w.done();
              } catch (err) {
                w.failed(err);
              }
            }),
          );
        });
      }
    } finally {
      holding = false;
      for (const w of waitingForHold.splice(0)) w.done();
    }
  }

  /** Client frames waiting per socket (frame-queue.ts); dropped when the socket closes. */
  const frameQueues = new Map<number, ClientFrameQueue<QueuedClientFrame>>();

  /** Runs one queued frame; a refusal or failure is answered with an error frame. */
  function runClientFrame(ws: Ws, userId: number, queued: QueuedClientFrame): Promise<void> {
    if (isClosed(ws)) return Promise.resolve();
    const work = onClientFrame(ws, userId, queued.frame).catch((err: unknown) => {
      if (err instanceof AppError) send(ws, errorFrame(err.message));
      else if (isUnavailableOrWraps(err)) {
        // The database or the broker is down (a typing frame needs the broker): REST says 503.
        app.log.warn("client frame: backing service unavailable", { user_id: userId, type: queued.frame.type });
        send(ws, errorFrame("Service temporarily unavailable"));
      } else {
        app.log.error("client frame failed", { user_id: userId, type: queued.frame.type, error: String(err) });
        send(ws, errorFrame("Internal server error"));
      }
    });
    track(work);
    return work;
  }

  async function onClientFrame(ws: Ws, userId: number, frame: Exclude<TClientFrame, { type: "ping" }>): Promise<void> {
    switch (frame.type) {
      case "typing": {
        const member = members.has(frame.chat_id, userId) || (await findMembership(app.db, frame.chat_id, userId)) !== undefined;
        if (!member) {
          send(ws, errorFrame("Chat not found"));
          return;
        }
        const fresh = await app.broker.setIfAbsent(`typing:${userId}:${frame.chat_id}`, "1", TYPING_INTERVAL_SECONDS);
        if (!fresh || isClosed(ws)) return;
        // Typing says "I am writing here": only who may post there (a channel's owner and admins;
        // in a private chat, not someone the other side blocked). Checked after the throttle, so at
        // most once per interval; a refusal is the send's 403 as an error frame.
        const { chat, member: row } = await requireMember(app.db, frame.chat_id, userId);
        await requireCanPost(app.db, chat, row);
        if (isClosed(ws)) return;
        publishEphemeral([{ targets: [chatTopic(frame.chat_id)], frame: encodeEphemeral("typing", { chat_id: frame.chat_id, user_id: userId }) }], ws);
        return;
      }
      case "message_delivered":
      case "message_read":
        await updateMessageStatus(app, userId, { chat_id: frame.chat_id, message_id: frame.message_id, status: frame.type });
        return;
    }
  }

  /** Same close code either way (sign in again); the reason tells a session that ran out from a revoked one. */
  function closeSessions(ids: readonly string[], reason = "Session revoked") {
    if (ids.length === 0) return;
    const revoked = new Set(ids);
    const doomed = table.slots().filter((s) => revoked.has(table.sessionId(s))).map((s) => table.socket(s));
    for (const ws of doomed) ws?.close(CLOSE_SESSION_REVOKED, reason);
  }

  async function checkSessions(): Promise<void> {
    const ids = [...new Set(table.slots().map((s) => table.sessionId(s)))];
    if (ids.length === 0) return;
    const alive = new Set<string>();
    const expired = new Set<string>();
    for (let i = 0; i < ids.length; i += SESSION_CHECK_CHUNK) {
      // One parameter (a JSON array) per chunk: a prepared statement, not thousands of placeholders.
      const rows = await prepared(app.db, "ws_sessions_state", (db) =>
        db
          .select({ id: sessions.id, live: sql<boolean>`${sessions.expiresAt} > now()` })
          .from(sessions)
          .where(sql`${sessions.id} in (select jsonb_array_elements_text(${sql.placeholder("ids")}::jsonb))`)
          .prepare("ws_sessions_state"),
      ).execute({ ids: JSON.stringify(ids.slice(i, i + SESSION_CHECK_CHUNK)) });
      for (const r of rows) (r.live ? alive : expired).add(r.id);
    }
    closeSessions([...expired], "Session expired");
    closeSessions(ids.filter((id) => !alive.has(id) && !expired.has(id)));
  }

  /** The presence member of a connection: `<instance>:<connection number>`. */
  const memberOf = (slot: number) => `${app.instanceId}:${table.connNo(slot)}`;

  const websocket: WebSocketHandler<SocketData> = {
    maxPayloadLength: 64 * 1024,
    idleTimeout: 60,
    sendPings: true,
    backpressureLimit: 4 * 1024 * 1024,
    closeOnBackpressureLimit: true,
    perMessageDeflate: false,
    open(ws) {
      const { userId, sessionId, since } = ws.data as Handshake;
      const slot = table.add(ws, userId, sessionId);
      ws.data = slot;
      if (stopped) {
        ws.close(1001, "Server stopping");
        return;
      }
      // Upgrades checked at once all passed the count in `upgrade`.
      if (table.count(userId) > app.config.WS_MAX_CONNECTIONS_PER_USER) {
        ws.close(CLOSE_TOO_MANY_SOCKETS, TOO_MANY_SOCKETS);
        return;
      }
      // Presence fails open: without the broker, or with a hung one, the socket still goes live.
      const leased = presence.connected(userId, memberOf(slot)).catch((err: unknown) => {
        if (!stopped) app.log.warn("presence lease failed", { user_id: userId, error: String(err) });
      });
      track(goLive(ws, userId, since, atMost(leased, LEASE_WAIT_MS)));
    },
    message(ws, raw) {
      const parsed = parseClientFrame(raw);
      if ("error" in parsed) {
        send(ws, errorFrame(parsed.error));
        return;
      }
      const { frame } = parsed;
      if (frame.type === "ping") {
        send(ws, encodeEphemeral("pong"));
        return;
      }
      const slot = slotOf(ws);
      let queue = frameQueues.get(slot);
      if (!queue) {
        // Read now: after an await the slot may belong to another socket.
        const userId = table.userId(slot);
        queue = new ClientFrameQueue<QueuedClientFrame>((f) => runClientFrame(ws, userId, f), CLIENT_FRAMES_WAITING, mergeQueuedFrames);
        frameQueues.set(slot, queue);
      }
      if (!queue.push(queuedFrame(frame))) send(ws, errorFrame("Too many frames waiting: slow down"));
    },
    drain(ws) {
      wakeDrainWaiters(slotOf(ws));
    },
    close(ws) {
      const slot = slotOf(ws);
      if (!table.holds(slot, ws)) return;
      frameQueues.delete(slot);
      const userId = table.userId(slot);
      const member = memberOf(slot);
      const wasLive = table.isLive(slot);
      const lastLocal = table.remove(slot);
      // The slot is free from here: replays waiting on it see the socket closed.
      wakeDrainWaiters(slot);
      if (wasLive && !isLiveUser(userId)) members.removeUser(userId);
      track(presence.disconnected(userId, member, lastLocal));
    },
  };

  const allowedOrigins = app.config.WS_ALLOWED_ORIGINS?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);

  return {
    websocket,
    async upgrade(req, url, srv) {
      if (req.method !== "GET") return errorResponse(405, "Method not allowed", { allow: "GET" });
      const origin = req.headers.get("origin");
      if (allowedOrigins && allowedOrigins.length > 0 && origin && !allowedOrigins.includes(origin)) return errorResponse(403, "Origin not allowed");
      const token = url.searchParams.get("token") ?? bearerToken(req.headers.get("authorization"));
      if (!token) return errorResponse(401, "Not authenticated");
      const sinceRaw = url.searchParams.get("since");
      if (sinceRaw !== null && !/^\d{1,15}$/.test(sinceRaw)) return errorResponse(422, "since: must be a non-negative integer");
      const user = await authenticateAccessToken(app, token, { rememberToken: false });
      if (!user) return errorResponse(401, "Invalid or expired token");
      // One account must not take the instance's open files (every socket is one).
      if (table.count(user.id) >= app.config.WS_MAX_CONNECTIONS_PER_USER) return errorResponse(429, TOO_MANY_SOCKETS);
      const data: Handshake = { userId: user.id, sessionId: user.sessionId, since: sinceRaw === null ? null : Number(sinceRaw) };
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
        // Sockets close while presence still works: each last close writes last_seen_at and
        // announces the user offline, to partners on other instances through the broker. With
        // presence stopped first, the close recorded the user offline without announcing it, and
        // no sweep repairs that (the user is no longer announced online): partners saw them online
        // until they reloaded.
        for (const ws of openSockets()) ws.close(1001, "Server stopping");
        for (let waited = 0; openSockets().length > 0 && waited < SHUTDOWN_CLOSE_WAIT_MS; waited += 10) await Bun.sleep(10);
        await Promise.all([...pendingWork]);
        presence.stop();
        await tailer.stop();
        for (const u of unsubscribers) await u().catch(() => {});
        await Promise.all([...pendingWork]);
      });
    },
  };
}
