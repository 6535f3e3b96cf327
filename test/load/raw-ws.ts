/**
 * A raw WebSocket client over node:net: the handshake by hand and a minimal frame parser (server
 * frames are unmasked and unfragmented here). Unlike the WebSocket class, `pause()` really stops
 * reading, so the kernel buffers fill and the server sees backpressure.
 */
import { connect, type Socket } from "node:net";

export interface RawFrame {
  opcode: number;
  payload: Buffer;
}

export class RawWs {
  readonly frames: RawFrame[] = [];
  /** Close code of a close frame from the server, if one arrived. */
  closeCode: number | null = null;
  readonly ended: Promise<void>;
  private buffer: Buffer = Buffer.alloc(0);
  private upgraded = false;
  private listeners: (() => void)[] = [];

  private constructor(private readonly sock: Socket) {
    this.ended = new Promise((resolve) => sock.once("close", () => resolve()));
    sock.on("data", (chunk: Buffer) => this.onData(chunk));
    sock.on("error", () => {});
  }

  /** Connects and upgrades; resolves once the 101 answer is read. */
  static open(baseUrl: string, path: string, timeoutMs = 10_000): Promise<RawWs> {
    const { hostname, port } = new URL(baseUrl);
    const sock = connect(Number(port), hostname);
    const raw = new RawWs(sock);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no upgrade answer")), timeoutMs);
      raw.listeners.push(() => {
        if (raw.upgraded) {
          clearTimeout(timer);
          resolve(raw);
        }
      });
      void raw.ended.then(() => reject(new Error("closed during the handshake")));
      sock.write(
        `GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
  }

  /** Text frames decoded as JSON. */
  json<T>(): T[] {
    return this.frames.filter((f) => f.opcode === 1).map((f) => JSON.parse(f.payload.toString("utf8")) as T);
  }

  /** Resolves when `check()` holds, re-checked on every frame; rejects at the deadline. */
  until(check: () => boolean, timeoutMs: number): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners = this.listeners.filter((l) => l !== listener);
        reject(new Error("raw websocket: condition not met in time"));
      }, timeoutMs);
      const listener = () => {
        if (!check()) return;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== listener);
        resolve();
      };
      this.listeners.push(listener);
    });
  }

  /** Stops reading from the kernel socket. */
  pause(): void {
    this.sock.pause();
  }

  resume(): void {
    this.sock.resume();
  }

  destroy(): void {
    this.sock.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    if (!this.upgraded) {
      const end = this.buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = this.buffer.subarray(0, end).toString("latin1");
      if (!head.startsWith("HTTP/1.1 101")) throw new Error(`upgrade refused: ${head.split("\r\n")[0]}`);
      this.upgraded = true;
      this.buffer = this.buffer.subarray(end + 4);
    }
    for (;;) {
      if (this.buffer.length < 2) break;
      const b0 = this.buffer[0] ?? 0;
      const b1 = this.buffer[1] ?? 0;
      let len = b1 & 0x7f;
      let offset = 2;
      if (len === 126) {
        if (this.buffer.length < 4) break;
        len = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (len === 127) {
        if (this.buffer.length < 10) break;
        len = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (b1 & 0x80) throw new Error("masked server frame");
      if ((b0 & 0x80) === 0) throw new Error("fragmented server frame");
      if (this.buffer.length < offset + len) break;
      const payload = this.buffer.subarray(offset, offset + len);
      const opcode = b0 & 0x0f;
      if (opcode === 8 && payload.length >= 2) this.closeCode = payload.readUInt16BE(0);
      this.frames.push({ opcode, payload: Buffer.from(payload) });
      this.buffer = this.buffer.subarray(offset + len);
    }
    for (const l of [...this.listeners]) l();
  }
}
