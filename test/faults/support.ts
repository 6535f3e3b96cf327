/**
 * Pieces of the fault tests: a resuming WebSocket client, a paced REST send loop that records every
 * answer, a readiness poller, and typed REST calls. Everything is bounded by deadlines; sleeps only
 * pace loops.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface Answer {
  status: number;
  body: Json | undefined;
  ms: number;
}

const isObject = (v: Json | undefined): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

export function field(v: Json | undefined, key: string): Json | undefined {
  return isObject(v) ? v[key] : undefined;
}

export function num(v: Json | undefined): number {
  if (typeof v !== "number") throw new Error(`expected a number, got ${JSON.stringify(v)}`);
  return v;
}

/** One REST call with a hard deadline: status 0 is a network error, -1 a timeout. */
export async function rest(base: string, method: string, path: string, opts: { token?: string; body?: Json; timeoutMs?: number } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  const started = performance.now();
  try {
    const res = await fetch(path.startsWith("/health") || path.startsWith("/ws") ? `${base}${path}` : `${base}/api/v1${path}`, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 8000),
    });
    const text = await res.text();
    let body: Json | undefined;
    try {
      body = text ? (JSON.parse(text) as Json) : undefined;
    } catch {
      body = text;
    }
    return { status: res.status, body, ms: performance.now() - started };
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
    return { status: timedOut ? -1 : 0, body: undefined, ms: performance.now() - started };
  }
}

/** Polls `pred` every `pacingMs` until it holds or `timeoutMs` passes; answers whether it held. */
export async function until(pred: () => boolean | Promise<boolean>, timeoutMs: number, pacingMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return true;
    if (Date.now() >= deadline) return false;
    await Bun.sleep(pacingMs);
  }
}

export interface Frame {
  type: string;
  seq?: number;
  data: JsonObject;
}

/**
 * A client that stays connected: when its socket closes it reconnects with `since=` (the highest
 * position seen) to the first instance that accepts, like a real app behind a load balancer.
 * Records durable frames and every violation of "in order, no duplicate".
 */
export class ResumingClient {
  readonly durable: Frame[] = [];
  readonly ephemeral: Frame[] = [];
  readonly violations: string[] = [];
  position = 0;
  reconnects = 0;
  resyncs = 0;
  connectedTo = "";
  private ws: WebSocket | null = null;
  private stopping = false;
  private reconnecting: Promise<void> | null = null;

  constructor(
    readonly name: string,
    readonly userId: number,
    private readonly token: string,
    /** Instances to try, in order of preference, at each (re)connect. */
    private readonly candidates: () => string[],
  ) {}

  /** Connects to `base` and resolves on `ready`, or rejects within `timeoutMs`. */
  open(base: string, timeoutMs = 5000): Promise<void> {
    const url = new URL("/ws", base.replace(/^http/, "ws"));
    url.searchParams.set("token", this.token);
    if (this.position > 0) url.searchParams.set("since", String(this.position));
    const ws = new WebSocket(url.toString());
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => {
        if (!ready) {
          ws.close();
          reject(new Error(`${this.name}: no ready from ${base}`));
        }
      }, timeoutMs);
      ws.addEventListener("message", (e) => {
        const frame = JSON.parse(String(e.data)) as Frame;
        if (frame.type === "ready") {
          this.position = Math.max(this.position, num(frame.data.seq));
          if (!ready) {
            ready = true;
            clearTimeout(timer);
            this.ws = ws;
            this.connectedTo = base;
            resolve();
          }
          return;
        }
        if (frame.type === "resync_required") {
          this.resyncs += 1;
          this.violations.push(`${this.name}: resync_required at ${this.position}`);
          return;
        }
        if (frame.seq === undefined) {
          this.ephemeral.push(frame);
          return;
        }
        if (frame.seq <= this.position) this.violations.push(`${this.name}: seq ${frame.seq} after ${this.position} (${frame.type})`);
        this.position = Math.max(this.position, frame.seq);
        this.durable.push(frame);
      });
      ws.addEventListener("close", () => {
        if (!ready) {
          clearTimeout(timer);
          reject(new Error(`${this.name}: closed before ready (${base})`));
          return;
        }
        if (this.ws === ws) this.ws = null;
        if (!this.stopping) this.reconnecting ??= this.reconnect().finally(() => (this.reconnecting = null));
      });
      ws.addEventListener("error", () => {
        // "close" follows.
      });
    });
  }

  get connected(): boolean {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  private async reconnect(): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (!this.stopping && Date.now() < deadline) {
      for (const base of this.candidates()) {
        try {
          await this.open(base);
          this.reconnects += 1;
          return;
        } catch {
          // next candidate
        }
      }
      await Bun.sleep(250);
    }
    if (!this.stopping) this.violations.push(`${this.name}: could not reconnect within 60 s`);
  }

  send(frame: JsonObject): void {
    this.ws?.send(JSON.stringify(frame));
  }

  /** Message ids of `message_created` frames of `chatId`, in arrival order. */
  createdIn(chatId: number): number[] {
    const ids: number[] = [];
    for (const f of this.durable) {
      if (f.type !== "message_created") continue;
      const message = f.data.message;
      if (field(message, "chat_id") === chatId) ids.push(num(field(message, "id")));
    }
    return ids;
  }

  async close(): Promise<void> {
    this.stopping = true;
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => ws.addEventListener("close", () => resolve(), { once: true }));
    ws.close();
    await Promise.race([closed, Bun.sleep(2000)]);
  }
}

export interface SendRecord {
  n: number;
  instance: string;
  chatId: number;
  senderId: number;
  startedAt: number;
  status: number;
  ms: number;
  messageId: number | null;
  detail: Json | undefined;
}

export interface Sender {
  id: number;
  token: string;
}

/**
 * A steady send loop through REST: one message every `intervalMs`, round-robin over `plan`
 * (sender, chat) and over the instances `targets()` answers, not waiting for answers (a slow answer
 * must not slow the loop). Every answer is recorded.
 */
export class SendLoop {
  readonly records: SendRecord[] = [];
  private inflight = new Set<Promise<void>>();
  private running = false;
  private loop: Promise<void> | null = null;
  private n = 0;

  constructor(
    private readonly plan: { sender: Sender; chatId: number }[],
    private readonly targets: () => string[],
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      let next = performance.now();
      while (this.running) {
        this.fire();
        next += this.intervalMs;
        await Bun.sleep(Math.max(0, next - performance.now()));
      }
    })();
  }

  private fire(): void {
    const n = this.n++;
    const step = this.plan[n % this.plan.length];
    const targets = this.targets();
    const instance = targets[n % targets.length];
    if (!step || !instance) return;
    const startedAt = Date.now();
    const p = rest(instance, "POST", "/messages", {
      token: step.sender.token,
      body: { chat_id: step.chatId, type: "text", text: `fault message ${n}`, client_message_id: `fault-${n}` },
      timeoutMs: 8000,
    }).then((a) => {
      const id = a.status === 201 ? field(a.body, "id") : undefined;
      this.records.push({
        n,
        instance,
        chatId: step.chatId,
        senderId: step.sender.id,
        startedAt,
        status: a.status,
        ms: a.ms,
        messageId: typeof id === "number" ? id : null,
        detail: field(a.body, "detail"),
      });
    });
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /** Stops sending and waits for every answer. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await Promise.all([...this.inflight]);
  }

  between(from: number, to: number): SendRecord[] {
    return this.records.filter((r) => r.startedAt >= from && r.startedAt < to);
  }
}

export interface Readiness {
  status: number;
  db: Json | undefined;
  redis: Json | undefined;
  ms: number;
}

export async function readiness(base: string): Promise<Readiness> {
  const a = await rest(base, "GET", "/health/ready", { timeoutMs: 8000 });
  const detail = field(a.body, "detail");
  if (a.status === 200) return { status: 200, db: true, redis: true, ms: a.ms };
  return { status: a.status, db: field(detail, "db"), redis: field(detail, "redis"), ms: a.ms };
}

/** Polls readiness until `pred` holds; answers the elapsed time, every poll's latency checked by the caller. */
export async function waitReadiness(base: string, pred: (r: Readiness) => boolean, timeoutMs: number, polls: Readiness[]): Promise<number | null> {
  const started = Date.now();
  let held = false;
  await until(
    async () => {
      const r = await readiness(base);
      polls.push(r);
      held = pred(r);
      return held;
    },
    timeoutMs,
    200,
  );
  return held ? Date.now() - started : null;
}
