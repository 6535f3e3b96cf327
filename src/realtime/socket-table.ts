/**
 * The gateway's per-socket state in flat arrays indexed by a slot number, which is the socket's
 * `ws.data` once it is open. An idle connection then owns no JavaScript object besides Bun's own
 * socket wrapper: objects made during a connect storm and kept for the socket's life sit scattered
 * over heap blocks that are otherwise garbage, and a full GC cannot give those blocks back
 * (docs/performance.md, "Memory per socket").
 *
 * A user's sockets on this instance form a list through `nextOfUser`, headed in `heads`.
 * Slots are reused after a close: code that kept a slot across an await asks `holds(slot, ws)`
 * before touching it.
 */
import { grown, IdMap } from "./id-map";

const INITIAL_SLOTS = 1024;
/** The socket is subscribed to its topics (after its replay). */
const LIVE = 1;
const END = -1;

export class SocketTable<W extends object> {
  private readonly sockets: (W | null)[] = [];
  private readonly sessions: (string | null)[] = [];
  private userIds = new Int32Array(INITIAL_SLOTS);
  /** Number of the connection on this instance (never reused, unlike slots: presence members). */
  private connNos = new Float64Array(INITIAL_SLOTS);
  private flags = new Uint8Array(INITIAL_SLOTS);
  private nextOfUser = new Int32Array(INITIAL_SLOTS);
  /** userId → the first slot of the user's list. */
  private readonly heads = new IdMap();
  private readonly free: number[] = [];
  private nextConnNo = 1;

  /** Registers an open socket; answers its slot. */
  add(ws: W, userId: number, sessionId: string): number {
    const slot = this.free.pop() ?? this.sockets.length;
    if (slot === this.sockets.length) {
      this.sockets.push(ws);
      this.sessions.push(sessionId);
      if (slot >= this.userIds.length) this.grow();
    } else {
      this.sockets[slot] = ws;
      this.sessions[slot] = sessionId;
    }
    this.userIds[slot] = userId;
    this.connNos[slot] = this.nextConnNo++;
    this.flags[slot] = 0;
    this.nextOfUser[slot] = this.heads.get(userId, END);
    this.heads.set(userId, slot);
    return slot;
  }

  /** Unregisters the socket of `slot`; answers true when it was its user's last one here. */
  remove(slot: number): boolean {
    const userId = this.userIds[slot] as number;
    const next = this.nextOfUser[slot] as number;
    const head = this.heads.get(userId, END);
    if (head === slot) {
      if (next === END) this.heads.delete(userId);
      else this.heads.set(userId, next);
    } else {
      for (let s = head; s !== END; s = this.nextOfUser[s] as number) {
        if (this.nextOfUser[s] === slot) {
          this.nextOfUser[s] = next;
          break;
        }
      }
    }
    this.sockets[slot] = null;
    this.sessions[slot] = null;
    this.flags[slot] = 0;
    this.free.push(slot);
    return !this.heads.has(userId);
  }

  /** True while `slot` is still `ws`'s (it was not closed and reused meanwhile). */
  holds(slot: number, ws: W): boolean {
    return this.sockets[slot] === ws;
  }

  socket(slot: number): W | null {
    return this.sockets[slot] ?? null;
  }

  userId(slot: number): number {
    return this.userIds[slot] as number;
  }

  sessionId(slot: number): string {
    return this.sessions[slot] ?? "";
  }

  connNo(slot: number): number {
    return this.connNos[slot] as number;
  }

  isLive(slot: number): boolean {
    return ((this.flags[slot] as number) & LIVE) !== 0;
  }

  setLive(slot: number): void {
    this.flags[slot] = (this.flags[slot] as number) | LIVE;
  }

  hasUser(userId: number): boolean {
    return this.heads.has(userId);
  }

  /** First slot of the user's sockets here, or -1; continue with `next`. */
  first(userId: number): number {
    return this.heads.get(userId, END);
  }

  next(slot: number): number {
    return this.nextOfUser[slot] as number;
  }

  /** Number of the user's sockets here, live or not yet. */
  count(userId: number): number {
    let n = 0;
    for (let s = this.first(userId); s !== END; s = this.next(s)) n++;
    return n;
  }

  /** Number of the user's sockets here that are live. */
  liveCount(userId: number): number {
    let n = 0;
    for (let s = this.first(userId); s !== END; s = this.next(s)) if (this.isLive(s)) n++;
    return n;
  }

  /** Every open socket's slot (a copy). */
  slots(): number[] {
    const out: number[] = [];
    for (let s = 0; s < this.sockets.length; s++) if (this.sockets[s]) out.push(s);
    return out;
  }

  private grow(): void {
    const size = this.userIds.length * 2;
    this.userIds = grown(this.userIds, size);
    this.connNos = grown(this.connNos, size);
    this.flags = grown(this.flags, size);
    this.nextOfUser = grown(this.nextOfUser, size);
  }
}
