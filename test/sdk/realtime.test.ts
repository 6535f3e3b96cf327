/**
 * connectRealtime: resume with since=, no duplicate, reconnect, typed send helpers. First against a
 * scripted WebSocket server (to force overlaps and drops), then against the real gateway.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server, ServerWebSocket } from "bun";
import { connectRealtime, createParleyClient } from "../../client-sdk/src/index";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser } from "../helpers/users";

interface Scripted {
  server: Server<{ since: string | null; token: string | null }>;
  url: string;
  connects: { since: string | null; token: string | null }[];
  sockets: ServerWebSocket<{ since: string | null; token: string | null }>[];
  received: unknown[];
  /** Resolves with the socket of the nth connection (0-based). */
  connection(n: number): Promise<ServerWebSocket<{ since: string | null; token: string | null }>>;
}

function scriptedServer(): Scripted {
  const waiters = new Map<number, (ws: ServerWebSocket<{ since: string | null; token: string | null }>) => void>();
  const s: Omit<Scripted, "server" | "url"> = {
    connects: [],
    sockets: [],
    received: [],
    connection(n) {
      const ws = s.sockets[n];
      if (ws) return Promise.resolve(ws);
      return new Promise((resolve) => waiters.set(n, resolve));
    },
  };
  const server = Bun.serve<{ since: string | null; token: string | null }>({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req, srv) {
      const url = new URL(req.url);
      const data = { since: url.searchParams.get("since"), token: url.searchParams.get("token") };
      if (url.pathname === "/ws" && srv.upgrade(req, { data })) return undefined;
      return new Response("no", { status: 404 });
    },
    websocket: {
      open(ws) {
        s.connects.push(ws.data);
        const n = s.sockets.push(ws) - 1;
        waiters.get(n)?.(ws);
      },
      message(_ws, msg) {
        s.received.push(JSON.parse(String(msg)));
      },
    },
  });
  return { ...s, server, url: `http://127.0.0.1:${server.port}` } as Scripted;
}

const ev = (seq: number, id: number) => JSON.stringify({ type: "message_deleted", seq, data: { chat_id: 1, message_id: id } });

describe("connectRealtime (scripted server)", () => {
  test("drops replayed duplicates, resumes with since= after a drop, passes ephemeral frames", async () => {
    const fake = scriptedServer();
    let tokenCalls = 0;
    const rt = connectRealtime({ url: fake.url, token: () => `tok${++tokenCalls}`, minDelayMs: 10, maxDelayMs: 50 });
    const seen: number[] = [];
    const typing: number[] = [];
    rt.on("message_deleted", (d, frame) => {
      expect(frame.seq).toBeDefined();
      seen.push(d.message_id);
    });
    rt.on("typing", (d) => typing.push(d.user_id));

    const first = await fake.connection(0);
    expect(fake.connects[0]).toEqual({ since: null, token: "tok1" });
    first.send(JSON.stringify({ type: "ready", data: { seq: 5 } }));
    first.send(ev(6, 106));
    first.send(ev(7, 107));
    first.send(JSON.stringify({ type: "typing", data: { chat_id: 1, user_id: 9 } }));
    first.send(ev(7, 107)); // duplicate on the same socket
    await rt.next("typing");
    await Bun.sleep(0);
    expect(rt.lastSeq).toBe(7);
    first.close(1012, "restart");

    const second = await fake.connection(1);
    expect(fake.connects[1]).toEqual({ since: "7", token: "tok2" });
    // A server replaying an overlapping range: 6 and 7 must not be delivered again.
    for (const [seq, id] of [[6, 106], [7, 107], [9, 109]] as const) second.send(ev(seq, id));
    second.send(JSON.stringify({ type: "ready", data: { seq: 9 } }));
    await rt.next("ready");
    expect(seen).toEqual([106, 107, 109]);
    expect(typing).toEqual([9]);

    expect(rt.markRead(1, 109)).toBe(true);
    expect(rt.typing(1)).toBe(true);
    expect(rt.markDelivered(1, 110)).toBe(true);
    expect(rt.ping()).toBe(true);
    for (let i = 0; i < 50 && fake.received.length < 4; i++) await Bun.sleep(10);
    expect(fake.received).toEqual([
      { type: "message_read", chat_id: 1, message_id: 109 },
      { type: "typing", chat_id: 1 },
      { type: "message_delivered", chat_id: 1, message_id: 110 },
      { type: "ping" },
    ]);

    rt.close();
    expect(rt.send({ type: "ping" })).toBe(false);
    await Bun.sleep(100);
    expect(fake.connects.length).toBe(2);
    fake.server.stop(true);
  });

  test("starts from since, honours resync_required, ignores garbage", async () => {
    const fake = scriptedServer();
    const rt = connectRealtime({ url: fake.url, token: "t", since: 40, minDelayMs: 10 });
    const ws = await fake.connection(0);
    expect(fake.connects[0]?.since).toBe("40");
    const resync = rt.next("resync_required");
    ws.send("not json");
    ws.send(JSON.stringify({ nope: 1 }));
    ws.send(ev(39, 1)); // before since: dropped
    ws.send(JSON.stringify({ type: "resync_required", data: { seq: 100, detail: "reload" } }));
    expect((await resync).seq).toBe(100);
    expect(rt.lastSeq).toBe(100);
    const got = rt.next("message_deleted");
    ws.send(ev(101, 5));
    expect((await got).message_id).toBe(5);
    rt.close();
    fake.server.stop(true);
  });
});

/** An unsigned JWT-shaped token with this `exp` (the client reads it, never verifies it). */
const jwtWithExp = (exp: number) => `h.${btoa(JSON.stringify({ sub: "1", exp })).replace(/=+$/, "")}.s`;

describe("connectRealtime: resume point, tokens and revocation (scripted server)", () => {
  test("ready raises the resume point, so a user who receives nothing resumes from the head, not from an old seq", async () => {
    const fake = scriptedServer();
    const rt = connectRealtime({ url: fake.url, token: "t", since: 5, minDelayMs: 10, maxDelayMs: 20 });
    const first = await fake.connection(0);
    first.send(JSON.stringify({ type: "ready", data: { seq: 40 } }));
    await rt.next("ready");
    expect(rt.lastSeq).toBe(40);
    first.close(1012, "restart");
    await fake.connection(1);
    expect(fake.connects[1]?.since).toBe("40");
    // A ready below what was delivered never lowers it.
    const second = await fake.connection(1);
    second.send(ev(41, 1));
    second.send(JSON.stringify({ type: "ready", data: { seq: 30 } }));
    await rt.next("ready");
    expect(rt.lastSeq).toBe(41);
    rt.close();
    fake.server.stop(true);
  });

  test("a revoked session (4001) is not reconnected; close() reports the end", async () => {
    const fake = scriptedServer();
    const rt = connectRealtime({ url: fake.url, token: "t", minDelayMs: 10, maxDelayMs: 20 });
    const ws = await fake.connection(0);
    const closed = rt.next("close");
    ws.close(4001, "Session revoked");
    expect(await closed).toMatchObject({ code: 4001, willReconnect: false, retryInMs: null });
    await Bun.sleep(80);
    expect(fake.connects.length).toBe(1);

    const other = connectRealtime({ url: fake.url, token: "t", minDelayMs: 10 });
    await fake.connection(1);
    const ended = other.next("close");
    other.close();
    expect(await ended).toEqual({ code: 1000, reason: "client closed", willReconnect: false, retryInMs: null });
    fake.server.stop(true);
  });

  test("an expired JWT is refreshed before it is offered", async () => {
    const fake = scriptedServer();
    let refreshes = 0;
    const fresh = jwtWithExp(Math.floor(Date.now() / 1000) + 900);
    const rt = connectRealtime({
      url: fake.url,
      token: jwtWithExp(Math.floor(Date.now() / 1000) - 5),
      refresh: async () => {
        refreshes += 1;
        return fresh;
      },
    });
    await fake.connection(0);
    expect([refreshes, fake.connects[0]?.token]).toEqual([1, fresh]);
    rt.close();
    fake.server.stop(true);
  });

  test("a connection refused before opening asks refresh once before the next attempt", async () => {
    const connects: string[] = [];
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(req, srv) {
        const token = new URL(req.url).searchParams.get("token") ?? "";
        connects.push(token);
        // The gateway refuses a bad token with 401 before the upgrade.
        if (token !== "good") return new Response(JSON.stringify({ detail: "Invalid token" }), { status: 401 });
        return srv.upgrade(req) ? undefined : new Response("no", { status: 400 });
      },
      websocket: { message() {} },
    });
    let refreshes = 0;
    const rt = connectRealtime({
      url: `http://127.0.0.1:${server.port}`,
      token: "stale",
      minDelayMs: 10,
      maxDelayMs: 20,
      refresh: async () => {
        refreshes += 1;
        return "good";
      },
    });
    await rt.opened();
    expect(connects).toEqual(["stale", "good"]);
    expect(refreshes).toBe(1);
    rt.close();
    server.stop(true);
  });
});

describe("connectRealtime (real gateway)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  test("live events, then a reconnect replays what was missed exactly once", async () => {
    const [alice, bob] = await Promise.all([createUser(server), createUser(server)]);
    const aliceApi = createParleyClient({ url: server.url, token: alice.token });
    const chat = await aliceApi.chats.create.mutate({ type: "private", member_ids: [bob.id] });

    // Records the sockets so the test can cut one (as a network drop would).
    const sockets: WebSocket[] = [];
    class TrackedWebSocket extends WebSocket {
      constructor(url: string) {
        super(url);
        sockets.push(this);
      }
    }
    // The token function holds the reconnect until the test lets it go, so the missed messages are
    // certainly sent while Bob is away and must come back through the replay.
    let gate: Promise<string> = Promise.resolve(bob.token);
    const rt = connectRealtime({ url: server.url, token: () => gate, minDelayMs: 20, maxDelayMs: 100, WebSocket: TrackedWebSocket });
    const texts: string[] = [];
    rt.on("message_created", ({ message }) => texts.push(String(message.text)));
    await rt.next("ready");

    const live = rt.next("message_created");
    const m1 = await aliceApi.messages.send.mutate({ chat_id: chat.id, text: "one" });
    expect((await live).message.id).toBe(m1.id);

    // Bob's socket drops; two messages are sent while he is away.
    const reopened = rt.next("open");
    const closed = rt.next("close");
    let release: (token: string) => void = () => {};
    gate = new Promise((resolve) => (release = resolve));
    sockets.at(-1)?.close(4000, "test: network drop");
    await closed;
    await aliceApi.messages.send.mutate({ chat_id: chat.id, text: "two" });
    await aliceApi.messages.send.mutate({ chat_id: chat.id, text: "three" });
    expect(texts).toEqual(["one"]);
    release(bob.token);
    const opened = await reopened;
    expect(opened.since).toBeDefined();
    const third = rt.next("message_created", (d) => d.message.text === "three");
    await third;
    expect(texts).toEqual(["one", "two", "three"]);

    // Read receipt through the socket reaches the sender.
    const aliceRt = connectRealtime({ url: server.url, token: alice.token });
    await aliceRt.next("ready");
    const receipt = aliceRt.next("message_read", (d) => d.chat_id === chat.id);
    expect(rt.markRead(chat.id, m1.id)).toBe(true);
    expect((await receipt).user_id).toBe(bob.id);
    rt.close();
    aliceRt.close();
  });
});

