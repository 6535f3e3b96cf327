/**
 * The gateway's typed-array bookkeeping (id-map.ts, local-members.ts, socket-table.ts) against plain Maps and arrays:
 * random operations must leave both sides with the same content.
 */
import { expect, test } from "bun:test";
import { IdMap } from "../../src/realtime/id-map";
import { LocalMembers } from "../../src/realtime/local-members";
import { SocketTable } from "../../src/realtime/socket-table";

/** Deterministic pseudo-random numbers (a failure is then reproducible). */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
}

test("IdMap answers like a Map through inserts, updates and deletes (growing and shrinking)", () => {
  const rnd = random(7);
  const map = new IdMap();
  const model = new Map<number, number>();
  for (let step = 0; step < 50_000; step++) {
    // Few distinct ids in a wide range: long probe runs and wrap-around, and shrinking phases.
    const id = 1 + Math.floor(rnd() * (step % 20_000 < 10_000 ? 3000 : 300)) * 7919;
    const op = rnd();
    if (op < 0.5) {
      const v = Math.floor(rnd() * 1000);
      map.set(id, v);
      model.set(id, v);
    } else {
      expect(map.delete(id)).toBe(model.delete(id));
    }
    if (step % 997 === 0) {
      expect(map.size).toBe(model.size);
      for (const [k, v] of model) expect(map.get(k)).toBe(v);
      expect(map.ids().sort((a, b) => a - b)).toEqual([...model.keys()].sort((a, b) => a - b));
    }
  }
  for (const [k, v] of model) expect(map.get(k)).toBe(v);
  expect(map.has(123_456_789)).toBe(false);
  expect(map.get(2 ** 40)).toBe(-1);
  expect(() => map.set(0, 1)).toThrow();
});

test("LocalMembers keeps (chat, user) pairs like a Map of Sets, both ways, reusing freed cells", () => {
  const rnd = random(11);
  const members = new LocalMembers();
  const model = new Map<number, Set<number>>();
  const usersOf = (chatId: number) => [...(model.get(chatId) ?? [])].sort((a, b) => a - b);
  const chatsOf = (userId: number) => [...model].filter(([, users]) => users.has(userId)).map(([c]) => c).sort((a, b) => a - b);
  for (let step = 0; step < 20_000; step++) {
    const chatId = 1 + Math.floor(rnd() * 30);
    const userId = 1 + Math.floor(rnd() * 60);
    const op = rnd();
    const users = model.get(chatId) ?? new Set<number>();
    if (op < 0.55) {
      expect(members.add(chatId, userId)).toBe(!users.has(userId));
      users.add(userId);
      model.set(chatId, users);
    } else if (op < 0.97) {
      expect(members.remove(chatId, userId)).toBe(users.delete(userId));
      if (users.size === 0) model.delete(chatId);
    } else {
      const expected = chatsOf(userId);
      expect(members.removeUser(userId).sort((a, b) => a - b)).toEqual(expected);
      for (const c of expected) {
        model.get(c)?.delete(userId);
        if (model.get(c)?.size === 0) model.delete(c);
      }
    }
    if (step % 499 === 0) {
      for (let c = 1; c <= 30; c++) {
        expect(members.usersOf(c).sort((a, b) => a - b)).toEqual(usersOf(c));
        expect(members.count(c)).toBe(model.get(c)?.size ?? 0);
      }
      for (let u = 1; u <= 60; u++) expect(members.chatsOf(u).sort((a, b) => a - b)).toEqual(chatsOf(u));
    }
  }
  expect(members.has(1, 2 ** 40)).toBe(false);
});

test("SocketTable: users' socket lists, slot reuse, and a reused slot no longer holds the old socket", () => {
  const table = new SocketTable<{ name: string }>();
  const sockets = Array.from({ length: 3000 }, (_, i) => ({ name: `s${i}` }));
  const slots = sockets.map((ws, i) => table.add(ws, 1 + (i % 100), `session-${i}`));
  const of = (userId: number) => {
    const out: string[] = [];
    for (let s = table.first(userId); s >= 0; s = table.next(s)) out.push(table.socket(s)?.name ?? "?");
    return out.sort();
  };
  expect(of(5)).toEqual(sockets.filter((_, i) => i % 100 === 4).map((s) => s.name).sort());
  // Close every other socket of user 5, then all of user 6.
  for (let i = 4; i < 3000; i += 200) expect(table.remove(slots[i] as number)).toBe(false);
  for (let i = 5; i < 3000; i += 100) table.remove(slots[i] as number);
  expect(table.hasUser(6)).toBe(false);
  expect(of(5)).toEqual(sockets.filter((_, i) => i % 200 === 104).map((s) => s.name).sort());
  const old = sockets[5] as { name: string };
  const fresh = { name: "fresh" };
  const reused = table.add(fresh, 7, "session-fresh");
  expect(slots).toContain(reused);
  expect(table.holds(reused, fresh)).toBe(true);
  expect(table.holds(slots[5] as number, old)).toBe(false);
  expect(table.isLive(reused)).toBe(false);
  table.setLive(reused);
  expect(table.liveCount(7)).toBe(1);
  expect(table.sessionId(reused)).toBe("session-fresh");
  // Connection numbers are never reused (presence members stay unique).
  expect(table.connNo(reused)).toBe(3001);
  expect(table.slots().length).toBe(3000 - 15 - 30 + 1);
});
