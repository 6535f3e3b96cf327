/**
 * Races on real PostgreSQL (issue 11 §4; PGlite is one connection and cannot show them):
 * - 20 parallel sends with one client_message_id: one row, every answer the same id;
 * - 10 parallel creations of one private pair: one chat;
 * - message_read marks in random order: the final marks are the maximum;
 * - concurrent writers to one user's event log: /sync sees every committed event once, in order.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { queryRows } from "../../src/db/client";
import { api, type ApiResponse } from "../helpers/http";
import { startTestServer, usingPostgres, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";

type Res = ApiResponse<unknown>;
let server: TestServer;
let users: TestUser[];

const call = (method: string, path: string, token: string, body?: unknown): Promise<Res> => api<unknown>(server.url, method, path, { token, body });
function idOf(r: Res): number {
  const v = typeof r.body === "object" && r.body !== null ? (r.body as Record<string, unknown>).id : undefined;
  if (typeof v !== "number") throw new Error(`no id: ${r.status} ${r.text}`);
  return v;
}
async function group(owner: TestUser, members: TestUser[]): Promise<number> {
  const r = await call("POST", "/chats", owner.token, { type: "group", title: "race", member_ids: members.map((m) => m.id) });
  expect(r.status).toBe(200);
  return idOf(r);
}

/** A deterministic shuffle (mulberry32), so a failure can be replayed. */
function shuffled<T>(items: T[], seed: number): T[] {
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const x = out[i];
    const y = out[j];
    if (x === undefined || y === undefined) continue;
    out[i] = y;
    out[j] = x;
  }
  return out;
}

describe.skipIf(!usingPostgres)("races on PostgreSQL", () => {
  beforeAll(async () => {
    server = await startTestServer({ env: { DUPLICATE_MESSAGE_COOLDOWN_SECONDS: "10" } });
    users = await Promise.all(Array.from({ length: 12 }, () => createUser(server)));
  });
  afterAll(() => server.stop());

  const user = (i: number): TestUser => {
    const u = users[i];
    if (!u) throw new Error(`no user ${i}`);
    return u;
  };

  test("20 parallel sends with one client_message_id: one row, one id in every answer", async () => {
    const [a, b] = [user(0), user(1)];
    const chat = await group(a, [b]);
    for (let round = 0; round < 3; round++) {
      const clientId = `race-${round}-${Date.now()}`;
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => call("POST", "/messages", a.token, { chat_id: chat, text: `same text ${round}`, client_message_id: clientId })),
      );
      expect(answers.map((r) => r.status)).toEqual(Array.from({ length: 20 }, () => 201));
      const ids = new Set(answers.map(idOf));
      expect(ids.size).toBe(1);
      const rows = await queryRows<{ n: string | number }>(
        server.app.db,
        sql`select count(*) as n from messages where chat_id = ${chat} and client_message_id = ${clientId}`,
      );
      expect(Number(rows[0]?.n)).toBe(1);
    }
  });

  test("concurrent hand-overs and leaves of the owner leave exactly one owner (roles are read under the chat's lock)", async () => {
    const ownerCount = async (chatId: number) =>
      Number((await queryRows<{ n: number }>(server.app.db, sql`select count(*)::int as n from chat_members where chat_id = ${chatId} and role = 'owner'`))[0]?.n);
    for (let round = 0; round < 4; round++) {
      const [o, a, b, c] = [user(0), user(1), user(2), user(3)];
      // Two hand-overs at once.
      const twice = await group(o, [a, b, c]);
      for (const m of [a, b]) expect((await call("PATCH", `/chats/${twice}/members/${m.id}/role`, o.token, { role: "admin" })).status).toBe(200);
      const handOvers = await Promise.all([a, b].map((m) => call("PATCH", `/chats/${twice}/members/${m.id}/role`, o.token, { role: "owner" })));
      expect(handOvers.map((r) => r.status).sort()).toEqual([200, 403]);
      expect(await ownerCount(twice)).toBe(1);
      // The owner leaving twice at once, and with both admins leaving too.
      const leaves = await group(o, [a, b, c]);
      for (const m of [a, b]) expect((await call("PATCH", `/chats/${leaves}/members/${m.id}/role`, o.token, { role: "admin" })).status).toBe(200);
      await Promise.all([call("POST", `/chats/${leaves}/leave`, o.token), call("POST", `/chats/${leaves}/leave`, o.token)]);
      expect(await ownerCount(leaves)).toBe(1);
      const all = await group(o, [a, b, c]);
      for (const m of [a, b]) expect((await call("PATCH", `/chats/${all}/members/${m.id}/role`, o.token, { role: "admin" })).status).toBe(200);
      await Promise.all([o, a, b].map((m) => call("POST", `/chats/${all}/leave`, m.token)));
      expect(await ownerCount(all)).toBe(1);
    }
  });

  test("the first read marks of a new group racing its sends: every send answers 201 (no deadlock 500)", async () => {
    for (let round = 0; round < 4; round++) {
      const members = [user(4), user(5), user(6), user(7), user(8), user(9)];
      const chatId = await group(user(4), members.slice(1));
      const first = idOf(await call("POST", "/messages", user(4).token, { chat_id: chatId, type: "text", text: `seed ${round}` }));
      const answers = await Promise.all(
        members.flatMap((m, i) => [
          call("POST", "/messages/status", m.token, { chat_id: chatId, message_id: first, status: "message_read" }),
          call("POST", "/messages", m.token, { chat_id: chatId, type: "text", text: `round ${round} from ${i}` }),
        ]),
      );
      expect(answers.map((r) => r.status).filter((s) => s >= 500)).toEqual([]);
    }
  });

  test("sends in flight while their sender is removed: none lands after the removal", async () => {
    for (let round = 0; round < 4; round++) {
      const [o, m] = [user(10), user(11)];
      const chatId = await group(o, [m]);
      const sends = Array.from({ length: 8 }, (_, i) => call("POST", "/messages", m.token, { chat_id: chatId, type: "text", text: `in flight ${round}.${i}` }));
      const removal = call("DELETE", `/chats/${chatId}/members/${m.id}`, o.token);
      const [removed, ...answers] = await Promise.all([removal, ...sends]);
      expect(removed.status).toBe(204);
      for (const a of answers) expect([201, 403, 404]).toContain(a.status);
      // Every message of the removed member was written while they were a member: before the
      // position at which their membership period ended.
      const rows = await queryRows<{ late: number }>(
        server.app.db,
        sql`select count(*)::int as late from chat_events e join chat_member_periods p on p.chat_id = e.chat_id and p.user_id = ${m.id}
            where e.chat_id = ${chatId} and e.type = 'message_created' and (e.data #>> '{message,sender_id}')::int = ${m.id} and e.seq > p.left_seq`,
      );
      expect(rows[0]?.late).toBe(0);
      const landed = answers.filter((a) => a.status === 201).length;
      const stored = await queryRows<{ n: number }>(server.app.db, sql`select count(*)::int as n from messages where chat_id = ${chatId} and sender_id = ${m.id}`);
      expect(stored[0]?.n).toBe(landed);
    }
  });

  test("parallel toggles of one reaction by one user alternate: an even count leaves it off, half the answers show it on", async () => {
    const [a, b] = [user(2), user(3)];
    const chatId = await group(a, [b]);
    for (const count of [2, 10, 11]) {
      const messageId = idOf(await call("POST", "/messages", a.token, { chat_id: chatId, type: "text", text: `react to me ${count}` }));
      const answers = await Promise.all(
        Array.from({ length: count }, () => call("POST", `/messages/${messageId}/reactions/toggle`, b.token, { emoji: "🔥" })),
      );
      expect(answers.map((r) => r.status)).toEqual(Array.from({ length: count }, () => 200));
      // Each answer is the list right after its own toggle: on after the 1st, 3rd, 5th ... toggle.
      const shownOn = answers.filter((r) => (r.body as { emoji: string; reacted: boolean }[]).some((x) => x.emoji === "🔥" && x.reacted)).length;
      expect(shownOn).toBe(Math.ceil(count / 2));
      const list = await call("GET", `/messages/${messageId}/reactions`, a.token);
      expect(list.body).toEqual(count % 2 === 0 ? [] : [{ emoji: "🔥", count: 1, reacted: false }]);
    }
  });

  test("reactions toggled while the message is deleted for all: none stays behind (the toggle after the delete is 404)", async () => {
    const [a, b, c] = [user(2), user(3), user(4)];
    const chatId = await group(a, [b, c]);
    for (let round = 0; round < 4; round++) {
      const messageId = idOf(await call("POST", "/messages", a.token, { chat_id: chatId, type: "text", text: `soon gone ${round}` }));
      const toggles = [b, c, b, c, b].map((u, i) => call("POST", `/messages/${messageId}/reactions/toggle`, u.token, { emoji: ["👍", "🎉", "😮"][i % 3] }));
      const deletion = call("DELETE", `/messages/${messageId}?for_all=true`, a.token);
      const [deleted, ...answers] = await Promise.all([deletion, ...toggles]);
      expect(deleted.status).toBe(204);
      for (const r of answers) expect([200, 404]).toContain(r.status);
      const rows = await queryRows<{ n: number }>(server.app.db, sql`select count(*)::int as n from message_reactions where chat_id = ${chatId} and message_id = ${messageId}`);
      expect(rows[0]?.n).toBe(0);
    }
  });

  test("10 parallel creations of one private pair: one chat", async () => {
    for (let round = 0; round < 3; round++) {
      const [a, b] = [user(2 + round * 2), user(3 + round * 2)];
      // Both sides ask at once, five times each.
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          i % 2 === 0 ? call("POST", "/chats", a.token, { type: "private", member_ids: [b.id] }) : call("POST", "/chats", b.token, { type: "private", member_ids: [a.id] }),
        ),
      );
      expect(answers.map((r) => r.status)).toEqual(Array.from({ length: 10 }, () => 200));
      expect(new Set(answers.map(idOf)).size).toBe(1);
      const rows = await queryRows<{ n: string | number }>(
        server.app.db,
        sql`select count(*) as n from chats c where c.type = 'private' and not c.is_saved
              and exists (select 1 from chat_members m where m.chat_id = c.id and m.user_id = ${a.id})
              and exists (select 1 from chat_members m where m.chat_id = c.id and m.user_id = ${b.id})`,
      );
      expect(Number(rows[0]?.n)).toBe(1);
    }
  });

  test("status marks sent in random order end at the maximum", async () => {
    const [a, b] = [user(8), user(9)];
    const chat = await group(a, [b]);
    const ids: number[] = [];
    for (let i = 0; i < 15; i++) {
      const r = await call("POST", "/messages", a.token, { chat_id: chat, text: `mark ${i}` });
      expect(r.status).toBe(201);
      ids.push(idOf(r));
    }
    const max = Math.max(...ids);
    let maxRead = 0;
    for (const seed of [1, 2, 3]) {
      const order = shuffled(ids, seed);
      const statuses = order.map((_id, i) => (i % 3 === 0 ? "message_delivered" : "message_read"));
      const answers = await Promise.all(order.map((id, i) => call("POST", "/messages/status", b.token, { chat_id: chat, message_id: id, status: statuses[i] })));
      expect(answers.every((r) => r.status === 200)).toBe(true);
      order.forEach((id, i) => {
        if (statuses[i] === "message_read") maxRead = Math.max(maxRead, id);
      });
      const marks = await queryRows<{ r: string | number; d: string | number }>(
        server.app.db,
        sql`select last_read_message_id as r, last_delivered_message_id as d from chat_members where chat_id = ${chat} and user_id = ${b.id}`,
      );
      expect([Number(marks[0]?.r), Number(marks[0]?.d)]).toEqual([maxRead, max]);
    }
    // The newest message read last, alone: both marks are the maximum.
    const last = await call("POST", "/messages/status", b.token, { chat_id: chat, message_id: max, status: "message_read" });
    expect(last.status).toBe(200);
    const marks = await queryRows<{ r: string | number; d: string | number }>(
      server.app.db,
      sql`select last_read_message_id as r, last_delivered_message_id as d from chat_members where chat_id = ${chat} and user_id = ${b.id}`,
    );
    expect(Number(marks[0]?.r)).toBe(max);
    expect(Number(marks[0]?.d)).toBe(max);
    const chatRead = await call("GET", `/chats/${chat}`, b.token);
    expect((chatRead.body as Record<string, unknown>).unread_count).toBe(0);
    // A later, older mark leaves them as they are.
    const older = await call("POST", "/messages/status", b.token, { chat_id: chat, message_id: ids[0], status: "message_read" });
    expect(older.body).toEqual({ last_delivered_message_id: max, last_read_message_id: max });
  });

  test("parallel writers into one user's event log: /sync sees every event once, in order", async () => {
    const reader = user(10);
    const writers = [user(11), user(0), user(1), user(2), user(3), user(4), user(5), user(6), user(7), user(8)];
    const chats: number[] = [];
    for (const w of writers) chats.push(await group(w, [reader]));
    const startRes = await call("GET", "/sync?since=0&limit=100", reader.token);
    let since = 0;
    // Skip what exists so far.
    for (let r = startRes; ; ) {
      const body = r.body as { next_since: number; has_more: boolean };
      since = body.next_since;
      if (!body.has_more) break;
      r = await call("GET", `/sync?since=${since}&limit=100`, reader.token);
    }
    const sent = new Set<number>();
    const seen: { seq: number; id: number }[] = [];
    let cursor = since;
    // A poller reads while the writers write, so a late commit below an already-read position would show as a gap.
    let writing = true;
    const poll = async () => {
      while (writing) {
        const r = await call("GET", `/sync?since=${cursor}&limit=100`, reader.token);
        expect(r.status).toBe(200);
        const body = r.body as { events: { type: string; seq: number; data: Record<string, unknown> }[]; next_since: number };
        for (const e of body.events) {
          const message = e.data.message as { id?: number } | undefined;
          if (e.type === "message_created" && typeof message?.id === "number") seen.push({ seq: e.seq, id: message.id });
        }
        cursor = body.next_since;
      }
    };
    const poller = poll();
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all(writers.map((w, i) => call("POST", "/messages", w.token, { chat_id: chats[i], text: `log ${round} ${i}` })));
      for (const r of answers) {
        expect(r.status).toBe(201);
        sent.add(idOf(r));
      }
    }
    writing = false;
    await poller;
    // One last read after every writer committed.
    for (;;) {
      const r = await call("GET", `/sync?since=${cursor}&limit=100`, reader.token);
      const body = r.body as { events: { type: string; seq: number; data: Record<string, unknown> }[]; next_since: number; has_more: boolean };
      for (const e of body.events) {
        const message = e.data.message as { id?: number } | undefined;
        if (e.type === "message_created" && typeof message?.id === "number") seen.push({ seq: e.seq, id: message.id });
      }
      cursor = body.next_since;
      if (!body.has_more) break;
    }
    const seqs = seen.map((s) => s.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seen.map((s) => s.id).sort((x, y) => x - y)).toEqual([...sent].sort((x, y) => x - y));
  });
});
