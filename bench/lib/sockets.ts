/**
 * WebSocket clients for fan-out and connection scenarios: Parley/raw Bun sockets (the platform
 * WebSocket) and Socket.IO clients (websocket transport only), all behind one small interface.
 * Every connect has a timeout; nothing here waits without bound.
 */
import { io, type Socket } from "socket.io-client";

export interface Receiver {
  close(): void;
}

export type OnFrame = (text: string) => void;

/** Opens a platform WebSocket; resolves once open (and, for Parley, once `ready` arrived or 3 s passed). */
export function openWs(url: string, onFrame: OnFrame, waitReady: boolean, timeoutMs = 15_000): Promise<Receiver> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    let settled = false;
    const timer = setTimeout(() => finish(new Error(`connect timeout ${url.replace(/token=[^&]+/, "token=…")}`)), timeoutMs);
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        ws.close();
        reject(err);
      } else resolve({ close: () => ws.close() });
    };
    ws.onmessage = (ev) => {
      const text = typeof ev.data === "string" ? ev.data : "";
      if (!settled && text.includes('"ready"')) finish();
      onFrame(text);
    };
    ws.onopen = () => {
      if (!waitReady) finish();
      else setTimeout(() => finish(), 3000);
    };
    ws.onerror = () => finish(new Error("websocket error"));
    ws.onclose = (ev) => finish(new Error(`closed ${ev.code}`));
  });
}

export function openSocketIo(url: string, room: string, onFrame: OnFrame, timeoutMs = 15_000): Promise<Receiver> {
  return new Promise((resolve, reject) => {
    const s: Socket = io(url, { transports: ["websocket"], query: { room }, forceNew: true, reconnection: false, timeout: timeoutMs });
    const timer = setTimeout(() => {
      s.close();
      reject(new Error("socket.io connect timeout"));
    }, timeoutMs);
    s.on("m", (text: unknown) => onFrame(typeof text === "string" ? text : ""));
    s.on("connect", () => {
      clearTimeout(timer);
      resolve({ close: () => s.close() });
    });
    s.on("connect_error", (err: Error) => {
      clearTimeout(timer);
      s.close();
      reject(err);
    });
  });
}

/** Runs `open(i)` for i < n with at most `parallel` in flight; answers the receivers and the seconds it took. */
export async function openMany(n: number, parallel: number, open: (i: number) => Promise<Receiver>): Promise<{ receivers: Receiver[]; seconds: number; failed: number; firstError?: string }> {
  const receivers: Receiver[] = [];
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  const start = performance.now();
  async function worker() {
    while (next < n) {
      const i = next++;
      try {
        receivers.push(await open(i));
      } catch (err) {
        failed++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, worker));
  return { receivers, seconds: (performance.now() - start) / 1000, failed, firstError };
}

export const closeAll = (rs: Receiver[]) => {
  for (const r of rs) r.close();
};
