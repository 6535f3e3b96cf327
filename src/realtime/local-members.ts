/**
 * Which users with a live socket on this instance subscribe to which chat's topic. One cell per
 * (chat, user) in typed arrays, on two lists: the chat's (linked both ways, so a cell leaves in
 * O(1)) and the user's. About 20 bytes per pair, where a Map of Sets cost ~100 per pair plus a Set
 * per chat and an array per user (id-map.ts).
 *
 * Lookups by pair walk the user's list: a user is in few chats, and the longest lists (a user in
 * every chat of the benchmark: 1,000) are still short next to the database work of a connect.
 */
import { grown, IdMap } from "./id-map";

const END = -1;
const INITIAL_CELLS = 1024;

export class LocalMembers {
  private chatOf = new Int32Array(INITIAL_CELLS);
  private userOf = new Int32Array(INITIAL_CELLS);
  private nextInChat = new Int32Array(INITIAL_CELLS);
  private prevInChat = new Int32Array(INITIAL_CELLS);
  private nextOfUser = new Int32Array(INITIAL_CELLS);
  private readonly chatHeads = new IdMap();
  private readonly chatCounts = new IdMap();
  private readonly userHeads = new IdMap();
  private used = 0;
  private freeHead = END;

  /** Local users subscribed to the chat. */
  count(chatId: number): number {
    return this.chatCounts.get(chatId, 0);
  }

  has(chatId: number, userId: number): boolean {
    return this.find(chatId, userId) !== END;
  }

  /** Adds the pair; false when it was there already. */
  add(chatId: number, userId: number): boolean {
    if (this.has(chatId, userId)) return false;
    const cell = this.alloc();
    this.chatOf[cell] = chatId;
    this.userOf[cell] = userId;
    const head = this.chatHeads.get(chatId, END);
    this.nextInChat[cell] = head;
    this.prevInChat[cell] = END;
    if (head !== END) this.prevInChat[head] = cell;
    this.chatHeads.set(chatId, cell);
    this.chatCounts.set(chatId, this.count(chatId) + 1);
    this.nextOfUser[cell] = this.userHeads.get(userId, END);
    this.userHeads.set(userId, cell);
    return true;
  }

  /** Removes the pair; false when it was not there. */
  remove(chatId: number, userId: number): boolean {
    let prev = END;
    for (let cell = this.userHeads.get(userId, END); cell !== END; prev = cell, cell = this.nextOfUser[cell] as number) {
      if (this.chatOf[cell] !== chatId) continue;
      const after = this.nextOfUser[cell] as number;
      if (prev !== END) this.nextOfUser[prev] = after;
      else if (after === END) this.userHeads.delete(userId);
      else this.userHeads.set(userId, after);
      this.unlinkFromChat(cell);
      this.release(cell);
      return true;
    }
    return false;
  }

  /** Removes every pair of the user; answers the chats. */
  removeUser(userId: number): number[] {
    const chats: number[] = [];
    let cell = this.userHeads.get(userId, END);
    this.userHeads.delete(userId);
    while (cell !== END) {
      const after = this.nextOfUser[cell] as number;
      chats.push(this.chatOf[cell] as number);
      this.unlinkFromChat(cell);
      this.release(cell);
      cell = after;
    }
    return chats;
  }

  chatsOf(userId: number): number[] {
    const out: number[] = [];
    for (let cell = this.userHeads.get(userId, END); cell !== END; cell = this.nextOfUser[cell] as number) out.push(this.chatOf[cell] as number);
    return out;
  }

  /** The chat's local users (a copy). */
  usersOf(chatId: number): number[] {
    const out: number[] = [];
    for (let cell = this.chatHeads.get(chatId, END); cell !== END; cell = this.nextInChat[cell] as number) out.push(this.userOf[cell] as number);
    return out;
  }

  private find(chatId: number, userId: number): number {
    for (let cell = this.userHeads.get(userId, END); cell !== END; cell = this.nextOfUser[cell] as number) if (this.chatOf[cell] === chatId) return cell;
    return END;
  }

  private unlinkFromChat(cell: number): void {
    const chatId = this.chatOf[cell] as number;
    const prev = this.prevInChat[cell] as number;
    const next = this.nextInChat[cell] as number;
    if (prev !== END) this.nextInChat[prev] = next;
    else if (next === END) this.chatHeads.delete(chatId);
    else this.chatHeads.set(chatId, next);
    if (next !== END) this.prevInChat[next] = prev;
    const left = this.count(chatId) - 1;
    if (left > 0) this.chatCounts.set(chatId, left);
    else this.chatCounts.delete(chatId);
  }

  private alloc(): number {
    if (this.freeHead !== END) {
      const cell = this.freeHead;
      this.freeHead = this.nextOfUser[cell] as number;
      return cell;
    }
    if (this.used === this.chatOf.length) this.grow();
    return this.used++;
  }

  private release(cell: number): void {
    this.nextOfUser[cell] = this.freeHead;
    this.freeHead = cell;
  }

  private grow(): void {
    const size = this.chatOf.length * 2;
    this.chatOf = grown(this.chatOf, size);
    this.userOf = grown(this.userOf, size);
    this.nextInChat = grown(this.nextInChat, size);
    this.prevInChat = grown(this.prevInChat, size);
    this.nextOfUser = grown(this.nextOfUser, size);
  }
}
