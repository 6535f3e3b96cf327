/**
 * connectRealtime: the CONTRACT §8 WebSocket with automatic reconnect and resume.
 *
 * Invariants:
 * - `lastSeq` is the highest durable `seq` handed to a listener. A durable frame whose seq is not
 *   above it is dropped, so a replay overlapping what was already seen never delivers twice.
 * - Every (re)connect asks for `since=lastSeq`, so the server replays what happened while the socket
 *   was down. Without any seq yet, the `ready` frame's seq (the stream head when the socket opened)
 *   becomes the resume point; without that either, the first connect's `since` is used.
 * - `resync_required` means the server no longer holds the events after `lastSeq`: listeners must
 *   reload their state; the stream continues from the seq the frame names (or from live).
 */
import type { ChatRead, MessageRead, NotificationRead, ReactionRead } from "./types";

export interface MessageRef {
  chat_id: number;
  user_id: number;
  message_id: number;
}

/** Payload (`data`) of every server frame, by type. */
export interface RealtimeEventMap {
  message_created: { message: MessageRead };
  message_updated: { message: MessageRead };
  message_deleted: { chat_id: number; message_id: number };
  message_delivered: MessageRef;
  message_read: MessageRef;
  reactions_updated: { chat_id: number; message_id: number; reactions: ReactionRead[] };
  chat_updated: { chat: ChatRead };
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
  /** A WebSocket constructor (defaults to the global one). */
  WebSocket?: new (url: string) => WebSocketLike;
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
      if (lastSeq === undefined && typeof data.seq === "number") lastSeq = data.seq;
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

  const open = async () => {
    if (closedForGood) return;
    let token: string | null | undefined;
    try {
      token = typeof opts.token === "function" ? await opts.token() : opts.token;
    } catch {
      token = null;
    }
    if (closedForGood) return;
    if (!token) {
      const retryInMs = scheduleReconnect();
      emit("close", { code: 4001, reason: "no token", willReconnect: retryInMs !== null, retryInMs });
      return;
    }
    const since = lastSeq;
    const ws = new Ctor(wsUrl(opts.url, token, since));
    socket = ws;
    ws.onopen = () => {
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
    },
  };
  void open();
  return conn;
}
