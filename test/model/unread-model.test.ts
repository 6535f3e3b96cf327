/**
 * Model test of unread counters and ownership (issue 11 §4): three users in one closed group run
 * random commands (send with/without @mention, read to the newest, delete for all/for me, clear,
 * leave/rejoin by invite, remove, mute). After every step each member's unread_count and
 * unread_mentions_count from GET /chats/{id} must equal the model's, non-members must get 404, and
 * the group must have exactly one owner, the one the hand-over rule (oldest member) names.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import fc from "fast-check";
import { api, type ApiResponse } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";

type Res = ApiResponse<unknown>;

let server: TestServer;
let people: TestUser[] = [];
let textSeq = 0;

const call = (method: string, path: string, token: string, body?: unknown): Promise<Res> => api<unknown>(server.url, method, path, { token, body });
async function must(r: Promise<Res>, status: number, what: string): Promise<Res> {
  const res = await r;
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status} ${res.text}`);
  return res;
}
function obj(body: unknown): Record<string, unknown> {
  if (typeof body !== "object" || body === null) throw new Error(`not an object: ${JSON.stringify(body)}`);
  return body as Record<string, unknown>;
}
const person = (i: number): TestUser => {
  const p = people[i];
  if (!p) throw new Error(`no user ${i}`);
  return p;
};

interface Msg {
  id: number;
  sender: number;
  mentions: Set<number>;
  deletedForAll: boolean;
  hiddenFor: Set<number>;
}
interface MemberState {
  lastRead: number;
  clearedBefore: number;
  muted: boolean;
}
interface Model {
  members: Map<number, MemberState>;
  /** Current members in join order (the hand-over order). */
  order: number[];
  owner: number;
  messages: Msg[];
  /** Highest message id of the chat, deleted or not. */
  maxId: number;
}
interface Real {
  chatId: number;
  invite: string;
}

const visibleTo = (m: Model, u: number, msg: Msg): boolean => {
  const s = m.members.get(u);
  return !!s && !msg.deletedForAll && !msg.hiddenFor.has(u) && msg.id > s.clearedBefore;
};
function unreadOf(m: Model, u: number): { unread: number; mentions: number } {
  const s = m.members.get(u);
  if (!s) return { unread: 0, mentions: 0 };
  const mark = Math.max(s.lastRead, s.clearedBefore);
  const unread = m.messages.filter((msg) => msg.sender !== u && msg.id > mark && visibleTo(m, u, msg));
  return { unread: unread.length, mentions: unread.filter((msg) => msg.mentions.has(u)).length };
}

/** How many of each command ran (printed, so a run that exercises nothing shows). */
const executed = new Map<string, number>();

async function verify(m: Model, r: Real, what: string): Promise<void> {
  executed.set(what, (executed.get(what) ?? 0) + 1);
  for (let u = 0; u < 3; u++) {
    const res = await call("GET", `/chats/${r.chatId}`, person(u).token);
    if (!m.members.has(u)) {
      expect(res.status).toBe(404);
      continue;
    }
    expect(res.status).toBe(200);
    const body = obj(res.body);
    const want = unreadOf(m, u);
    expect({ user: u, unread: body.unread_count, mentions: body.unread_mentions_count, role: body.my_role }).toEqual({
      user: u,
      unread: want.unread,
      mentions: want.mentions,
      role: u === m.owner ? "owner" : "member",
    });
  }
  const viewer = m.order[0];
  if (viewer === undefined) throw new Error("the model lost every member");
  const list = await must(call("GET", `/chats/${r.chatId}/members`, person(viewer).token), 200, "members");
  const rows = (list.body as { user_id: number; role: string }[]).map((x) => ({ user: people.findIndex((p) => p.id === x.user_id), role: x.role }));
  expect(rows.filter((x) => x.role === "owner").map((x) => x.user)).toEqual([m.owner]);
  expect(rows.map((x) => x.user).sort()).toEqual([...m.members.keys()].sort());
}

type Cmd = fc.AsyncCommand<Model, Real>;

class Send implements Cmd {
  constructor(
    readonly actor: number,
    readonly mention: number | null,
  ) {}
  check = (m: Readonly<Model>) => m.members.has(this.actor);
  async run(m: Model, r: Real) {
    const text = this.mention === null ? `plain ${++textSeq}` : `hey @${person(this.mention).username} ${++textSeq}`;
    const res = await must(call("POST", "/messages", person(this.actor).token, { chat_id: r.chatId, text }), 201, "send");
    const id = Number(obj(res.body).id);
    const mentions = new Set<number>();
    if (this.mention !== null && this.mention !== this.actor && m.members.has(this.mention)) mentions.add(this.mention);
    m.messages.push({ id, sender: this.actor, mentions, deletedForAll: false, hiddenFor: new Set() });
    m.maxId = Math.max(m.maxId, id);
    await verify(m, r, `Send`);
  }
  toString = () => `send(${this.actor}${this.mention === null ? "" : ` @${this.mention}`})`;
}

class Read implements Cmd {
  constructor(readonly actor: number) {}
  check = (m: Readonly<Model>) => m.members.has(this.actor);
  async run(m: Model, r: Real) {
    const token = person(this.actor).token;
    const history = await must(call("GET", `/messages/${r.chatId}?limit=1`, token), 200, "history");
    const newest = (history.body as { id: number }[])[0]?.id;
    const visible = m.messages.filter((msg) => visibleTo(m, this.actor, msg)).map((msg) => msg.id);
    expect(newest ?? null).toBe(visible.length > 0 ? Math.max(...visible) : null);
    if (newest !== undefined) {
      await must(call("POST", "/messages/status", token, { chat_id: r.chatId, message_id: newest, status: "message_read" }), 200, "read");
      const s = m.members.get(this.actor);
      if (s) s.lastRead = Math.max(s.lastRead, newest);
    }
    await verify(m, r, `Read`);
  }
  toString = () => `read(${this.actor})`;
}

class DeleteMessage implements Cmd {
  constructor(
    readonly actor: number,
    readonly forAll: boolean,
    readonly pick: number,
  ) {}
  private candidates(m: Readonly<Model>): Msg[] {
    return m.messages.filter((msg) => visibleTo(m as Model, this.actor, msg) && (!this.forAll || msg.sender === this.actor));
  }
  check = (m: Readonly<Model>) => m.members.has(this.actor) && this.candidates(m).length > 0;
  async run(m: Model, r: Real) {
    const list = this.candidates(m);
    const msg = list[this.pick % list.length];
    if (!msg) throw new Error("no candidate");
    await must(call("DELETE", `/messages/${msg.id}?for_all=${this.forAll}`, person(this.actor).token), 204, "delete message");
    if (this.forAll) {
      msg.deletedForAll = true;
      msg.mentions.clear();
    } else {
      msg.hiddenFor.add(this.actor);
      msg.mentions.delete(this.actor);
    }
    await verify(m, r, `${this.forAll ? "delete for all" : "delete for me"}`);
  }
  toString = () => `delete(${this.actor}, ${this.forAll ? "for all" : "for me"}, #${this.pick})`;
}

class Clear implements Cmd {
  constructor(readonly actor: number) {}
  check = (m: Readonly<Model>) => m.members.has(this.actor);
  async run(m: Model, r: Real) {
    await must(call("POST", `/chats/${r.chatId}/clear`, person(this.actor).token), 204, "clear");
    const s = m.members.get(this.actor);
    if (s) s.clearedBefore = Math.max(s.clearedBefore, m.maxId);
    await verify(m, r, `Clear`);
  }
  toString = () => `clear(${this.actor})`;
}

function dropMember(m: Model, u: number): void {
  m.members.delete(u);
  m.order = m.order.filter((x) => x !== u);
  if (m.owner === u) {
    const next = m.order[0];
    if (next === undefined) throw new Error("no successor");
    m.owner = next;
  }
}

class Leave implements Cmd {
  constructor(readonly actor: number) {}
  check = (m: Readonly<Model>) => m.members.has(this.actor) && m.members.size > 1;
  async run(m: Model, r: Real) {
    await must(call("POST", `/chats/${r.chatId}/leave`, person(this.actor).token), 204, "leave");
    dropMember(m, this.actor);
    await verify(m, r, `Leave`);
  }
  toString = () => `leave(${this.actor})`;
}

class Remove implements Cmd {
  constructor(readonly target: number) {}
  check = (m: Readonly<Model>) => m.members.has(this.target) && m.owner !== this.target;
  async run(m: Model, r: Real) {
    await must(call("DELETE", `/chats/${r.chatId}/members/${person(this.target).id}`, person(m.owner).token), 204, "remove");
    dropMember(m, this.target);
    await verify(m, r, `Remove`);
  }
  toString = () => `remove(${this.target})`;
}

class Rejoin implements Cmd {
  constructor(readonly actor: number) {}
  check = (m: Readonly<Model>) => !m.members.has(this.actor);
  async run(m: Model, r: Real) {
    await must(call("POST", "/chats/join-by-invite", person(this.actor).token, { token: r.invite }), 200, "rejoin");
    // A new member starts read up to the newest message (docs/decisions.md).
    m.members.set(this.actor, { lastRead: m.maxId, clearedBefore: 0, muted: false });
    m.order.push(this.actor);
    await verify(m, r, `Rejoin`);
  }
  toString = () => `rejoin(${this.actor})`;
}

class Mute implements Cmd {
  constructor(readonly actor: number) {}
  check = (m: Readonly<Model>) => m.members.has(this.actor);
  async run(m: Model, r: Real) {
    const s = m.members.get(this.actor);
    if (!s) throw new Error("not a member");
    const res = await must(call("PUT", `/chats/${r.chatId}/notifications`, person(this.actor).token, { muted: !s.muted }), 200, "mute");
    s.muted = !s.muted;
    expect(obj(res.body).muted).toBe(s.muted);
    await verify(m, r, `Mute`);
  }
  toString = () => `mute(${this.actor})`;
}

const actor = fc.integer({ min: 0, max: 2 });
const commands = [
  fc.tuple(actor, fc.option(actor, { nil: null })).map(([a, mention]) => new Send(a, mention)),
  fc.tuple(actor, fc.option(actor, { nil: null })).map(([a, mention]) => new Send(a, mention)),
  actor.map((a) => new Read(a)),
  actor.map((a) => new Read(a)),
  fc.tuple(actor, fc.boolean(), fc.nat(50)).map(([a, forAll, pick]) => new DeleteMessage(a, forAll, pick)),
  fc.tuple(actor, fc.boolean(), fc.nat(50)).map(([a, forAll, pick]) => new DeleteMessage(a, forAll, pick)),
  actor.map((a) => new Clear(a)),
  actor.map((a) => new Leave(a)),
  actor.map((a) => new Remove(a)),
  actor.map((a) => new Rejoin(a)),
  actor.map((a) => new Rejoin(a)),
  actor.map((a) => new Mute(a)),
];

beforeAll(async () => {
  server = await startTestServer();
  people = await Promise.all([createUser(server), createUser(server), createUser(server)]);
});
afterAll(() => server.stop());

test("unread counters and the single owner follow the model", async () => {
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(fc.oneof(...commands), { minLength: 15, maxLength: 18 }), async (cmds) => {
      runs++;
      const [a, b, c] = [person(0), person(1), person(2)];
      const created = await must(call("POST", "/chats", a.token, { type: "group", title: `model ${runs}`, member_ids: [b.id, c.id] }), 200, "create");
      const chatId = Number(obj(created.body).id);
      const link = await must(call("POST", `/chats/${chatId}/invite-link`, a.token), 200, "invite link");
      const invite = String(obj(link.body).token);
      const setup = () => ({
        model: {
          members: new Map<number, MemberState>([0, 1, 2].map((u) => [u, { lastRead: 0, clearedBefore: 0, muted: false }])),
          order: [0, 1, 2],
          owner: 0,
          messages: [],
          maxId: 0,
        } satisfies Model,
        real: { chatId, invite } satisfies Real,
      });
      await fc.asyncModelRun(setup, cmds);
    }),
    { seed: 20261124, numRuns: 30, endOnFailure: true },
  );
  console.log(`unread model: ${runs} runs, steps ${JSON.stringify(Object.fromEntries(executed))}`);
  expect(runs).toBe(30);
}, 120_000);
