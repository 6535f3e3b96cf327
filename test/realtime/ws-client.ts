/**
 * A WebSocket test client (Bun's global WebSocket): records every frame and waits for frames with a
 * timeout instead of sleeping.
 */
export interface Frame {
  type: string;
  seq?: number;
  data: Record<string, any>;
}

export interface WsClientOptions {
  since?: number;
  /** Resolve `connect` only after the `ready` frame (the socket is live). Default true. */
  awaitReady?: boolean;
}

export class WsClient {
  readonly frames: Frame[] = [];
  /** Arrival time (performance.now()) of each frame, same index as `frames`. */
  readonly times: number[] = [];
  private waiters: { pred: (f: Frame) => boolean; from: number; resolve: (f: Frame) => void }[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason })));
    ws.addEventListener("message", (e) => {
      const frame = JSON.parse(String(e.data)) as Frame;
      this.frames.push(frame);
      this.times.push(performance.now());
      const index = this.frames.length - 1;
      this.waiters = this.waiters.filter((w) => {
        if (index >= w.from && w.pred(frame)) {
          w.resolve(frame);
          return false;
        }
        return true;
      });
    });
  }

  static async connect(baseUrl: string, token: string, opts: WsClientOptions = {}): Promise<WsClient> {
    const url = new URL("/ws", baseUrl.replace(/^http/, "ws"));
    url.searchParams.set("token", token);
    if (opts.since !== undefined) url.searchParams.set("since", String(opts.since));
    const ws = new WebSocket(url.toString());
    const client = new WsClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new Error("websocket failed to open")), { once: true });
    });
    if (opts.awaitReady ?? true) await client.waitFor((f) => f.type === "ready");
    return client;
  }

  /** The first frame (from index `from`, default 0) matching `pred`, waiting up to `timeoutMs`. */
  waitFor(pred: (f: Frame) => boolean, timeoutMs = 5000, from = 0): Promise<Frame> {
    const found = this.frames.find((f, i) => i >= from && pred(f));
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timed out waiting for a frame; got: ${JSON.stringify(this.frames.map((f) => f.type))}`));
      }, timeoutMs);
      const done = (f: Frame) => {
        clearTimeout(timer);
        resolve(f);
      };
      this.waiters.push({ pred, from, resolve: done });
    });
  }

  /** Waits for the next frame of `type` received after now. */
  next(type: string, pred: (f: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> {
    return this.waitFor((f) => f.type === type && pred(f), timeoutMs, this.frames.length);
  }

  durable(): Frame[] {
    return this.frames.filter((f) => f.seq !== undefined);
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close();
    await this.closed;
  }
}

/** Position to resume from: the highest durable seq or ready position seen. */
export function lastSeq(c: WsClient): number {
  let at = 0;
  for (const f of c.frames) {
    if (f.seq !== undefined) at = Math.max(at, f.seq);
    if (f.type === "ready") at = Math.max(at, Number(f.data.seq));
  }
  return at;
}
