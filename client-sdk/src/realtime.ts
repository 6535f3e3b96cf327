/**
 * connectRealtime: the CONTRACT §8 WebSocket with automatic reconnect and resume.
 *
 * Invariants:
 * - `lastSeq` is the highest durable `seq` handed to a listener. A durable frame whose seq is not
 *   above it is dropped, so a replay overlapping what was already seen never delivers twice.
 * - Every (re)connect asks for `since=lastSeq`, so the server replays what happened while the socket
 *   was down. A `ready` frame's seq (everything up to it was replayed or is not this user's) raises
 *   the resume point too, so a user who receives nothing does not resume from an ever older seq
 *   (and one day from before the server's retention).
 * - A token is not offered when it is a JWT that has expired (or expires within EXPIRY_MARGIN_S):
 *   `refresh` is asked for a new one first. The server refuses a bad token before the upgrade, which
 *   a browser reports only as a failed connection (1006), so `refresh` is also asked once after a
 *   connection fails before opening. A revoked session (close code 4001) is not reconnected.
 * - `resync_required` means the server no longer holds the events after `lastSeq`: listeners must
 *   reload their state; the stream continues from the seq the frame names (or from live).
 */
import type { ChatRead, MessageRead, NotificationRead, ReactionRead } from "./types";

export interface MessageRef {
  chat_id: number;
  user_id: number;
  message_id: number;
}

/**
 * The receiver's absolute unread counters for the chat, on `message_created`, `message_updated`,
 * `message_deleted` and `message_read` (docs/realtime.md, "Per-receiver data"). Absent on frames shared by more than 100
 * receivers on one instance and on replays that could not count them.
 */
export interface UnreadCounters {
  unread_count?: number;
  unread_mentions_count?: number;
}

/** The chat-level fields every chat-level `chat_updated` carries, besides the receiver's `chat`. */
export interface SharedChatFields {
  chat_id: number;
  title: string | null;
  avatar_url: string | null;
  description: string | null;
  handle: string | null;
  is_public: boolean;
  pinned_message_id: number | null;
  members_count: number;
  subscribers_count: number | null;
}

/** Payload (`data`) of every server frame, by type. */
export interface RealtimeEventMap {
  message_created: { message: MessageRead } & UnreadCounters;
  message_updated: { message: MessageRead } & UnreadCounters;
  message_deleted: { chat_id: number; message_id: number } & UnreadCounters;
  message_delivered: MessageRef;
  message_read: MessageRef & UnreadCounters;
  reactions_updated: { chat_id: number; message_id: number; reactions: ReactionRead[] };
  /**
   * `chat` is the receiver's ChatRead; a chat-level change shared by more than 100 receivers on one
   * instance carries only the shared fields (then read the chat with `chats.get` when needed).
   */
  chat_updated: { chat?: ChatRead } & Partial<SharedChatFields>;
  chat_deleted: { chat_id: number };
  notification: { notification: NotificationRead };
  presence: { user_id: number; is_online: boolean; last_seen_at: string | null };
  typing: { chat_id: number; user_id: number };
  pong: Record<string, unknown>;
  error: { detail: string };
  ready: { seq: number };
  resync_required: { seq?: number; detail?: string };
}
export type RealtimeEventType = keyof RealtimeEventMap;

/** Connection life cycle, reported next to the server's events. */
export interface ConnectionEventMap {
  open: { attempt: number; since: number | undefined };
  close: { code: number; reason: string; willReconnect: boolean; retryInMs: number | null };
}

export type ListenerMap = RealtimeEventMap & ConnectionEventMap;
export type Listener<K extends keyof ListenerMap> = (data: ListenerMap[K], frame: { type: K; seq?: number }) => void;

/** Frames a client may send (CONTRACT §8). */
export type ClientFrame =
  | { type: "typing"; chat_id: number }
  | { type: "message_delivered" | "message_read"; chat_id: number; message_id: number }
  | { type: "ping" };

export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: Event) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface RealtimeOptions {
  /** Server origin, http(s) or ws(s) (the socket opens at `${url}/ws`). */
  url: string;
  /** The access token, or a function answering it (asked before every connect). */
  token: string | (() => string | null | undefined | Promise<string | null | undefined>);
  /** Resume after this seq (e.g. the last one a previous session stored). */
  since?: number;
  /** Reconnect after an unexpected close (default true). */
  reconnect?: boolean;
  /** First reconnect delay, doubled per failed attempt up to `maxDelayMs` (defaults 250 / 10000). */
  minDelayMs?: number;
  maxDelayMs?: number;
  /**
   * Answers a fresh access token (e.g. through `auth.refresh`), asked when the token is an expired
   * JWT and once after a connection failed before opening. Share one refresh with the HTTP client
   * (`sharedRefresh`): two refreshes with the same refresh token look like a stolen one to the
   * server, which then ends the session.
   */
  refresh?: () => Promise<string | null | undefined>;
  /** A WebSocket constructor (defaults to the global one). */
  WebSocket?: new (url: string) => WebSocketLike;
}

/** Close code of a revoked session (the server's), after which the connection is not retried. */
export const CLOSE_SESSION_REVOKED = 4001;
/** Close code this client reports when it has no token to connect with. */
export const CLOSE_NO_TOKEN = 4000;
/** A JWT expiring within this many seconds is refreshed before it is offered. */
const EXPIRY_MARGIN_S = 10;

/** The `exp` claim of a JWT (not verified: only to avoid offering an expired one); null when none. */
function jwtExpiry(token: string): number | null {
  const payload = token.split(".")[1];
  if (!payload) return null;
  try {
    const json: unknown = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
    return isRecord(json) && typeof json.exp === "number" ? json.exp : null;
  } catch {
    return null;
  }
}

/**
 * One refresh at a time for several callers: while `refresh` runs, every caller gets its answer.
 * Give the result to both `createParleyClient({ refresh })` and `connectRealtime({ refresh })`.
 */
export function sharedRefresh(refresh: () => Promise<string | null | undefined>): () => Promise<string | null | undefined> {
  let running: Promise<string | null | undefined> | null = null;
  return () =>
    (running ??= refresh().finally(() => {
      running = null;
    }));
}

export interface RealtimeConnection {
  on<K extends keyof ListenerMap>(type: K, listener: Listener<K>): () => void;
  off<K extends keyof ListenerMap>(type: K, listener: Listener<K>): void;
  /** Resolves with the next event of that type (optionally the first one passing `match`). */
  next<K extends keyof ListenerMap>(type: K, match?: (data: ListenerMap[K]) => boolean): Promise<ListenerMap[K]>;
  /** Sends a frame; answers false when the socket is not open (the frame is not queued). */
  send(frame: ClientFrame): boolean;
  typing(chatId: number): boolean;
  markRead(chatId: number, messageId: number): boolean;
  markDelivered(chatId: number, messageId: number): boolean;
  ping(): boolean;
  /** Highest durable seq delivered (the resume point). */
  readonly lastSeq: number | undefined;
  readonly connected: boolean;
  /** Resolves once the socket is open (the first time, or again after a reconnect). */
  opened(): Promise<void>;
  /** Closes for good: no reconnect. */
  close(): void;
}

const OPEN = 1;

function wsUrl(base: string, token: string, since: number | undefined): string {
  const u = new URL(base.replace(/\/+$/, "") + "/ws");
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  u.searchParams.set("token", token);
  if (since !== undefined) u.searchParams.set("since", String(since));
  return u.toString();
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function connectRealtime(opts: RealtimeOptions): RealtimeConnection {
  type AnyListener = (data: unknown, frame: { type: string; seq?: number }) => void;
  const listeners = new Map<string, Set<AnyListener>>();
  const Ctor = opts.WebSocket ?? (globalThis.WebSocket as unknown as new (url: string) => WebSocketLike);
  const minDelay = opts.minDelayMs ?? 250;
  const maxDelay = opts.maxDelayMs ?? 10_000;

  let lastSeq: number | undefined = opts.since;
  let socket: WebSocketLike | null = null;
  let closedForGood = false;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let openWaiters: Array<() => void> = [];
  /** A token from `refresh`, used instead of a plain-string `token` from then on. */
  let refreshed: string | null = null;
  /** The last connection failed before opening: ask `refresh` once before the next one. */
  let refreshBeforeNext = false;

  const emit = (type: string, data: unknown, seq?: number) => {
    const set = listeners.get(type);
    if (!set) return;
    const frame = seq === undefined ? { type } : { type, seq };
    for (const l of [...set]) {
      try {
        l(data, frame);
      } catch (err) {
        // A throwing listener must not stop the others nor the stream.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  };

  const onFrame = (raw: unknown) => {
    if (typeof raw !== "string") return;
    let frame: unknown;
    try {
      frame = JSON.parse(raw);
    } catch {
      return;
    }
    if (!isRecord(frame) || typeof frame.type !== "string") return;
    const data = isRecord(frame.data) ? frame.data : {};
    const seq = typeof frame.seq === "number" ? frame.seq : undefined;
    if (seq !== undefined) {
      if (lastSeq !== undefined && seq <= lastSeq) return;
      lastSeq = seq;
    } else if (frame.type === "ready") {
      if (typeof data.seq === "number" && (lastSeq === undefined || data.seq > lastSeq)) lastSeq = data.seq;
    } else if (frame.type === "resync_required") {
      lastSeq = typeof data.seq === "number" ? data.seq : undefined;
    }
    emit(frame.type, data, seq);
  };

  const scheduleReconnect = (): number | null => {
    if (closedForGood || opts.reconnect === false) return null;
    const base = Math.min(maxDelay, minDelay * 2 ** Math.min(attempt, 16));
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    attempt += 1;
    timer = setTimeout(() => {
      timer = null;
      void open();
    }, delay);
    return delay;
  };

  const currentToken = async (): Promise<string | null | undefined> =>
    typeof opts.token === "function" ? await opts.token() : (refreshed ?? opts.token);

  /** The token to connect with: refreshed first when it is an expired JWT or the last attempt failed. */
  const tokenForConnect = async (): Promise<string | null | undefined> => {
    let token = await currentToken();
    const exp = token ? jwtExpiry(token) : null;
    const expired = exp !== null && exp - EXPIRY_MARGIN_S <= Date.now() / 1000;
    if (opts.refresh && (expired || refreshBeforeNext)) {
      refreshBeforeNext = false;
      const fresh = await opts.refresh();
      if (fresh) {
        if (typeof opts.token !== "function") refreshed = fresh;
        token = typeof opts.token === "function" ? await opts.token() : fresh;
      }
    }
    return token;
  };

  const open = async () => {
    if (closedForGood) return;
    let token: string | null | undefined;
    try {
      token = await tokenForConnect();
    } catch {
      token = null;
    }
    if (closedForGood) return;
    if (!token) {
      const retryInMs = scheduleReconnect();
      emit("close", { code: CLOSE_NO_TOKEN, reason: "no token", willReconnect: retryInMs !== null, retryInMs });
      return;
    }
    const since = lastSeq;
    const ws = new Ctor(wsUrl(opts.url, token, since));
    socket = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      const n = attempt;
      attempt = 0;
      emit("open", { attempt: n, since });
      const waiters = openWaiters;
      openWaiters = [];
      for (const w of waiters) w();
    };
    ws.onmessage = (ev) => onFrame(ev.data);
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      if (socket !== ws) return;
      socket = null;
      // Refused before the upgrade (maybe the token) or cut later (the network, a restart).
      if (!opened) refreshBeforeNext = true;
      if (ev.code === CLOSE_SESSION_REVOKED) closedForGood = true;
      const retryInMs = scheduleReconnect();
      emit("close", { code: ev.code, reason: ev.reason, willReconnect: retryInMs !== null, retryInMs });
    };
  };

  const send = (frame: ClientFrame): boolean => {
    if (!socket || socket.readyState !== OPEN) return false;
    socket.send(JSON.stringify(frame));
    return true;
  };

  const conn: RealtimeConnection = {
    on(type, listener) {
      let set = listeners.get(type);
      if (!set) listeners.set(type, (set = new Set()));
      set.add(listener as AnyListener);
      return () => conn.off(type, listener);
    },
    off(type, listener) {
      listeners.get(type)?.delete(listener as AnyListener);
    },
    next(type, match) {
      return new Promise((resolve) => {
        const off = conn.on(type, (data) => {
          if (match && !match(data)) return;
          off();
          resolve(data);
        });
      });
    },
    send,
    typing: (chatId) => send({ type: "typing", chat_id: chatId }),
    markRead: (chatId, messageId) => send({ type: "message_read", chat_id: chatId, message_id: messageId }),
    markDelivered: (chatId, messageId) => send({ type: "message_delivered", chat_id: chatId, message_id: messageId }),
    ping: () => send({ type: "ping" }),
    get lastSeq() {
      return lastSeq;
    },
    get connected() {
      return socket !== null && socket.readyState === OPEN;
    },
    opened() {
      if (conn.connected) return Promise.resolve();
      return new Promise((resolve) => openWaiters.push(resolve));
    },
    close() {
      closedForGood = true;
      if (timer) clearTimeout(timer);
      timer = null;
      const ws = socket;
      socket = null;
      ws?.close(1000, "client closed");
      emit("close", { code: 1000, reason: "client closed", willReconnect: false, retryInMs: null });
    },
  };
  void open();
  return conn;
}
