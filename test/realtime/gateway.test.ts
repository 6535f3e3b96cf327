import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { WsClient } from "./ws-client";

let server: TestServer;
let http: ReturnType<typeof client>;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let stranger: TestUser;
let group: number;

async function createGroup(owner: TestUser, members: TestUser[], title = "Realtime group"): Promise<number> {
  const r = await http.post("/chats", { token: owner.token, body: { type: "group", title, member_ids: members.map((m) => m.id) } });
  if (r.status !== 201 && r.status !== 200) throw new Error(`create chat: ${r.status} ${r.text}`);
  return r.body.id;
}

async function sendText(user: TestUser, chatId: number, text: string): Promise<number> {
  const r = await http.post("/messages", { token: user.token, body: { chat_id: chatId, type: "text", text } });
  if (r.status !== 201) throw new Error(`send: ${r.status} ${r.text}`);
  return r.body.id;
}

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  [alice, bob, carol, stranger] = await Promise.all([createUser(server), createUser(server), createUser(server), createUser(server)]);
  group = await createGroup(alice, [bob, carol]);
}, 180_000);

afterAll(async () => {
  await server.stop();
});

describe("upgrade", () => {
  test("no token, a bad token or a malformed since answer before the upgrade", async () => {
    const none = await fetch(`${server.url}/ws`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe("Bearer");
    expect((await none.json()).detail).toBeString();
    const bad = await fetch(`${server.url}/ws?token=not-a-jwt`);
    expect(bad.status).toBe(401);
    const since = await fetch(`${server.url}/ws?token=${alice.token}&since=abc`);
    expect(since.status).toBe(422);
    const refused = new WebSocket(`${server.url.replace("http", "ws")}/ws?token=nope`);
    const outcome = await new Promise<string>((resolve) => {
      refused.addEventListener("open", () => resolve("open"));
      refused.addEventListener("error", () => resolve("error"));
    });
    expect(outcome).toBe("error");
  });

  test("a fresh connection gets ready with the current position", async () => {
    const c = await WsClient.connect(server.url, alice.token);
    const ready = await c.waitFor((f) => f.type === "ready");
    expect(ready.data.seq).toBeNumber();
    expect(ready.seq).toBeUndefined();
    await c.close();
  });
});

describe("client frames", () => {
  test("ping is answered with pong; malformed frames get an error and the socket stays open", async () => {
    const c = await WsClient.connect(server.url, alice.token);
    c.send({ type: "ping" });
    const pong = await c.next("pong");
    expect(pong.seq).toBeUndefined();
    for (const bad of ["{not json", JSON.stringify([1]), JSON.stringify({ type: "dance" }), JSON.stringify({ type: "typing" }), JSON.stringify({ type: "message_read", chat_id: group, message_id: "x" })]) {
      const at = c.frames.length;
      c.send(bad);
      const err = await c.waitFor((f) => f.type === "error", 5000, at);
      expect(err.data.detail).toBeString();
    }
    c.send({ type: "ping" });
    await c.next("pong");
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    await c.close();
  });

  test("ids past REST's bounds (chat ids are int4) get the validation error REST gives, not an internal error", async () => {
    const c = await WsClient.connect(server.url, alice.token);
    const cases = [
      { frame: { type: "typing", chat_id: 2 ** 31 }, field: "chat_id" },
      { frame: { type: "message_read", chat_id: 2 ** 31, message_id: 1 }, field: "chat_id" },
      { frame: { type: "message_delivered", chat_id: group, message_id: 2 ** 53 }, field: "message_id" },
    ];
    for (const { frame, field } of cases) {
      const at = c.frames.length;
      c.send(frame);
      const err = await c.waitFor((f) => f.type === "error", 5000, at);
      expect({ frame, detail: err.data.detail }).toEqual({ frame, detail: expect.stringMatching(new RegExp(`^${field}:`)) });
    }
    await c.close();
  });

  test("typing goes to the chat's other members only, at most once per 2 s per user and chat", async () => {
    const a = await WsClient.connect(server.url, alice.token);
    const b = await WsClient.connect(server.url, bob.token);
    const s = await WsClient.connect(server.url, stranger.token);
    const other = await createGroup(alice, [bob], "typing sentinel");
    // The membership of the new chat reaches b's socket through the log; wait for it.
    await b.waitFor((f) => f.type === "chat_updated" && f.data.chat?.id === other);
    const third = await createGroup(alice, [bob], "typing sentinel 2");
    await b.waitFor((f) => f.type === "chat_updated" && f.data.chat?.id === third);
    a.send({ type: "typing", chat_id: group });
    a.send({ type: "typing", chat_id: group });
    a.send({ type: "typing", chat_id: other });
    // Frames are handled concurrently (each checks posting rights), so their order may vary.
    const t = await b.waitFor((f) => f.type === "typing" && f.data.chat_id === other);
    expect(t.data.user_id).toBe(alice.id);
    await b.waitFor((f) => f.type === "typing" && f.data.chat_id === group);
    // A frame sent after both: the throttled second one had its turn before it.
    a.send({ type: "typing", chat_id: third });
    await b.waitFor((f) => f.type === "typing" && f.data.chat_id === third);
    expect(b.frames.filter((f) => f.type === "typing" && f.data.chat_id === group)).toHaveLength(1);
    expect(a.frames.filter((f) => f.type === "typing")).toHaveLength(0);
    s.send({ type: "typing", chat_id: group });
    expect((await s.next("error")).data.detail).toBe("Chat not found");
    expect(s.frames.filter((f) => f.type === "typing")).toHaveLength(0);
    await Promise.all([a.close(), b.close(), s.close()]);
  });

  test("typing needs the right to post: a channel's subscriber and a blocked private counterpart get the send's 403", async () => {
    const channel: number = (await http.post("/chats", { token: alice.token, body: { type: "channel", title: "typing channel", member_ids: [bob.id] } })).body.id;
    const pair = await http.post("/chats", { token: carol.token, body: { type: "private", member_ids: [stranger.id] } });
    expect(pair.status).toBe(200);
    expect((await http.post(`/users/${stranger.id}/block`, { token: carol.token })).status).toBeLessThan(300);
    const a = await WsClient.connect(server.url, alice.token);
    const c = await WsClient.connect(server.url, carol.token);
    const b = await WsClient.connect(server.url, bob.token);
    const s = await WsClient.connect(server.url, stranger.token);
    b.send({ type: "typing", chat_id: channel });
    expect((await b.next("error")).data.detail).toBeString();
    s.send({ type: "typing", chat_id: pair.body.id });
    expect((await s.next("error")).data.detail).toBe("This user does not accept your messages");
    // The owner may: the subscriber sees it.
    a.send({ type: "typing", chat_id: channel });
    await b.waitFor((f) => f.type === "typing" && f.data.chat_id === channel && f.data.user_id === alice.id);
    expect(a.frames.filter((f) => f.type === "typing")).toHaveLength(0);
    expect(c.frames.filter((f) => f.type === "typing")).toHaveLength(0);
    await Promise.all([a.close(), b.close(), c.close(), s.close()]);
  });

  test("message_read over the socket moves the marks like POST /messages/status", async () => {
    const chat = await createGroup(alice, [bob], "status chat");
    const b = await WsClient.connect(server.url, bob.token);
    const a = await WsClient.connect(server.url, alice.token);
    const m1 = await sendText(alice, chat, "one");
    const m2 = await sendText(alice, chat, "two");
    const created = await b.waitFor((f) => f.type === "message_created" && f.data.message.id === m2);
    expect(created.data.unread_count).toBeGreaterThanOrEqual(1);
    b.send({ type: "message_read", chat_id: chat, message_id: m1 });
    const read = await a.waitFor((f) => f.type === "message_read" && f.data.chat_id === chat);
    expect(read.data).toMatchObject({ chat_id: chat, user_id: bob.id, message_id: m1 });
    const own = await b.waitFor((f) => f.type === "message_read" && f.data.chat_id === chat);
    expect(own.data.unread_count).toBe(1);
    const rest = await http.post("/messages/status", { token: bob.token, body: { chat_id: chat, message_id: m2, status: "message_read" } });
    expect(rest.status).toBe(200);
    expect(rest.body).toEqual({ last_delivered_message_id: m2, last_read_message_id: m2 });
    const own2 = await b.waitFor((f) => f.type === "message_read" && f.data.message_id === m2);
    expect(own2.data.unread_count).toBe(0);
    b.send({ type: "message_delivered", chat_id: chat, message_id: 999999999 });
    expect((await b.next("error")).data.detail).toBeString();
    await Promise.all([a.close(), b.close()]);
  });
});

describe("events", () => {
  test("message events reach members with their own absolute counters; strangers get nothing", async () => {
    const a = await WsClient.connect(server.url, alice.token);
    const b = await WsClient.connect(server.url, bob.token);
    const s = await WsClient.connect(server.url, stranger.token);
    const id = await sendText(alice, group, "hello @" + bob.username);
    const fb = await b.waitFor((f) => f.type === "message_created" && f.data.message.id === id);
    const fa = await a.waitFor((f) => f.type === "message_created" && f.data.message.id === id);
    expect(fb.seq).toBe(fa.seq as number);
    expect(fb.data.message).toMatchObject({ id, chat_id: group, sender_id: alice.id, text: "hello @" + bob.username });
    expect(fb.data.unread_count).toBeGreaterThanOrEqual(1);
    expect(fb.data.unread_mentions_count).toBeGreaterThanOrEqual(1);
    expect(fa.data.unread_count).toBe(0);

    expect((await http.put(`/messages/${id}`, { token: alice.token, body: { text: "edited" } })).status).toBe(200);
    const upd = await b.waitFor((f) => f.type === "message_updated" && f.data.message.id === id);
    expect(upd.data.message.text).toBe("edited");

    expect((await http.post(`/messages/${id}/reactions/toggle`, { token: bob.token, body: { emoji: "👍" } })).status).toBe(200);
    const rx = await a.waitFor((f) => f.type === "reactions_updated" && f.data.message_id === id);
    expect(rx.data.chat_id).toBe(group);
    expect(rx.data.reactions).toEqual([expect.objectContaining({ emoji: "👍", count: 1 })]);

    const del = await http.delete(`/messages/${id}?for_all=true`, { token: alice.token });
    expect(del.status).toBe(204);
    const gone = await b.waitFor((f) => f.type === "message_deleted" && f.data.message_id === id);
    expect(gone.data.chat_id).toBe(group);
    expect(gone.data.unread_count).toBeNumber();

    // Sequence numbers only increase on each connection.
    const seqs = b.durable().map((f) => f.seq as number);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    // A private chat the stranger is not in: nothing of the group reached them.
    expect(s.durable().filter((f) => f.data.chat_id === group || f.data.message?.chat_id === group)).toHaveLength(0);
    await Promise.all([a.close(), b.close(), s.close()]);
  });

  test("chat_updated carries the receiver's own ChatRead", async () => {
    const b = await WsClient.connect(server.url, bob.token);
    const a = await WsClient.connect(server.url, alice.token);
    expect((await http.patch(`/chats/${group}/title`, { token: alice.token, body: { title: "Renamed" } })).status).toBe(200);
    const fb = await b.waitFor((f) => f.type === "chat_updated" && f.data.chat?.id === group && f.data.chat.title === "Renamed");
    const fa = await a.waitFor((f) => f.type === "chat_updated" && f.data.chat?.id === group && f.data.chat.title === "Renamed");
    expect(fb.data.chat.my_role).toBe("member");
    expect(fa.data.chat.my_role).toBe("owner");
    expect(fb.data.chat.unread_count).toBeNumber();
    await Promise.all([a.close(), b.close()]);
  });

  test("a removed member hears chat_deleted and nothing more from that chat", async () => {
    const chat = await createGroup(alice, [bob, carol], "removal");
    const sentinel = await createGroup(alice, [carol], "sentinel");
    const c = await WsClient.connect(server.url, carol.token);
    const before = await sendText(alice, chat, "before removal");
    await c.waitFor((f) => f.type === "message_created" && f.data.message.id === before);
    expect((await http.delete(`/chats/${chat}/members/${carol.id}`, { token: alice.token })).status).toBe(204);
    await c.waitFor((f) => f.type === "chat_deleted" && f.data.chat_id === chat);
    const after = await sendText(alice, chat, "after removal");
    expect((await http.post(`/messages/${before}/reactions/toggle`, { token: bob.token, body: { emoji: "🔥" } })).status).toBe(200);
    const last = await sendText(alice, sentinel, "sentinel");
    await c.waitFor((f) => f.type === "message_created" && f.data.message.id === last);
    const ofChat = c.durable().filter((f) => f.data.chat_id === chat || f.data.message?.chat_id === chat || f.data.chat?.id === chat);
    // Nothing of that chat after the chat_deleted that told carol she is out.
    expect(ofChat[ofChat.length - 1]?.type).toBe("chat_deleted");
    expect(c.durable().some((f) => f.data.message?.id === after)).toBe(false);
    expect(c.durable().some((f) => f.type === "reactions_updated" && f.data.chat_id === chat)).toBe(false);
    await c.close();
  });

  test("a member removed from a chat gets no chat_updated without their own chat view (replay leaves it out too)", async () => {
    const chat = await createGroup(alice, [bob, carol], "removal view");
    const c = await WsClient.connect(server.url, carol.token);
    expect((await http.patch(`/chats/${chat}/title`, { token: alice.token, body: { title: "renamed" } })).status).toBe(200);
    // The rename reaches her before she is removed: a rename whose frames are built after the
    // removal committed finds her no longer a member and is not hers (replay leaves it out too).
    await c.waitFor((f) => f.type === "chat_updated" && f.data.chat?.title === "renamed");
    expect((await http.delete(`/chats/${chat}/members/${carol.id}`, { token: alice.token })).status).toBe(204);
    await c.waitFor((f) => f.type === "chat_deleted" && f.data.chat_id === chat);
    const live = c.durable().filter((f) => f.data.chat_id === chat || f.data.chat?.id === chat);
    // The rename with her view of the chat, then her removal; the removal's chat-level update (the
    // chat's new member count) went to the remaining members only, as the shared row it is for her.
    expect(live.map((f) => f.type)).toEqual(["chat_updated", "chat_deleted"]);
    expect(live[0]?.data.chat).toMatchObject({ id: chat, title: "renamed", my_role: "member" });
    await c.close();
  });

  test("a user's remaining socket keeps its topics when another of their sockets closes", async () => {
    const first = await WsClient.connect(server.url, carol.token);
    const second = await WsClient.connect(server.url, carol.token);
    await first.close();
    const id = await sendText(alice, group, "still there?");
    const got = await second.waitFor((f) => f.type === "message_created" && f.data.message.id === id);
    expect(got.data.message.chat_id).toBe(group);
    // And a socket opened after that goes live with the chat's topic too.
    const third = await WsClient.connect(server.url, carol.token);
    await second.close();
    const id2 = await sendText(alice, group, "and now?");
    expect((await third.waitFor((f) => f.type === "message_created" && f.data.message.id === id2)).data.message.chat_id).toBe(group);
    await third.close();
  });

  test("a member added later starts receiving that chat's events", async () => {
    const chat = await createGroup(alice, [], "adding");
    const c = await WsClient.connect(server.url, carol.token);
    const r = await http.post(`/chats/${chat}/members`, { token: alice.token, body: { user_id: carol.id } });
    expect(r.status).toBe(201);
    await c.waitFor((f) => f.type === "chat_updated" && f.data.chat?.id === chat);
    const id = await sendText(alice, chat, "welcome");
    const got = await c.waitFor((f) => f.type === "message_created" && f.data.message.id === id);
    expect(got.data.unread_count).toBe(1);
    await c.close();
  });

  test("a session deleted without a revocation message is still closed by the periodic check", async () => {
    const { sessions } = await import("../../src/db/schema");
    const { eq } = await import("drizzle-orm");
    const login = await http.post("/auth/login", { body: { email: carol.email, password: carol.password } });
    expect(login.status).toBe(200);
    const token: string = login.body.access_token;
    const c = await WsClient.connect(server.url, token);
    const other = await WsClient.connect(server.url, carol.token);
    const jti = ((await http.get("/auth/sessions", { token })).body as { jti: string; current: boolean }[]).find((s) => s.current)?.jti;
    expect(jti).toBeString();
    // Straight in the database: no `sessions:revoked` message, as if it had been lost.
    await server.app.db.delete(sessions).where(eq(sessions.id, jti as string));
    const closed = await Promise.race([c.closed, Bun.sleep(12_000).then(() => null)]);
    expect(closed).toEqual({ code: 4001, reason: "Session revoked" });
    // The user's other session is untouched.
    other.send({ type: "ping" });
    await other.next("pong");
    await other.close();
  }, 20_000);

  test("a session that runs out closes its sockets with 4001 and says it expired (not revoked)", async () => {
    const { sessions } = await import("../../src/db/schema");
    const { eq } = await import("drizzle-orm");
    const login = await http.post("/auth/login", { body: { email: carol.email, password: carol.password } });
    const token: string = login.body.access_token;
    const c = await WsClient.connect(server.url, token);
    const jti = ((await http.get("/auth/sessions", { token })).body as { jti: string; current: boolean }[]).find((s) => s.current)?.jti;
    await server.app.db.update(sessions).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(sessions.id, jti as string));
    const closed = await Promise.race([c.closed, Bun.sleep(12_000).then(() => null)]);
    expect(closed).toEqual({ code: 4001, reason: "Session expired" });
  }, 20_000);

  test("a revoked session's sockets close within a second", async () => {
    const second = await http.post("/auth/login", { body: { email: bob.email, password: bob.password } });
    expect(second.status).toBe(200);
    const token2: string = second.body.access_token;
    const c = await WsClient.connect(server.url, token2);
    const sessions = await http.get("/auth/sessions", { token: token2 });
    const jti = (sessions.body as { jti: string; current: boolean }[]).find((s) => s.current)?.jti;
    expect(jti).toBeString();
    const started = performance.now();
    expect((await http.delete(`/auth/sessions/${jti}`, { token: bob.token })).status).toBe(204);
    const closed = await c.closed;
    expect(closed.code).toBe(4001);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe("backpressure", () => {
  test("a socket that stops reading is closed, not silently skipped", async () => {
    const { connect } = await import("node:net");
    const { transact } = await import("../../src/db/transact");
    const dave = await createUser(server);
    await http.post("/chats", { token: alice.token, body: { type: "private", member_ids: [dave.id] } });
    const watcher = await WsClient.connect(server.url, alice.token);
    const { port } = new URL(server.url);
    const sock = connect(Number(port), "127.0.0.1");
    // A raw client: upgrade, wait until the socket is live, then stop reading.
    await new Promise<void>((resolve) => {
      let seen = "";
      sock.on("data", (chunk: Buffer) => {
        seen += chunk.toString("latin1");
        if (seen.includes('"ready"')) {
          sock.pause();
          resolve();
        }
      });
      sock.write(
        `GET /ws?token=${dave.token} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    await watcher.waitFor((f) => f.type === "presence" && f.data.user_id === dave.id && f.data.is_online);
    // ~16 MB of events for dave: far over the 4 MiB limit plus what the kernel buffers.
    const blob = "x".repeat(256 * 1024);
    for (let i = 0; i < 64; i++) await transact(server.app, async (_tx, events) => events.toUser(dave.id, "notification", { i, blob }));
    const off = await watcher.waitFor((f) => f.type === "presence" && f.data.user_id === dave.id && f.data.is_online === false, 20_000);
    expect(off.data.last_seen_at).toBeString();
    sock.destroy();
    await watcher.close();
  });
});

describe("a private chat deleted for oneself", () => {
  test("comes back live with the next message: chat_updated first, then the message (the socket subscribes again)", async () => {
    const dana = await createUser(server);
    const created = await http.post("/chats", { token: alice.token, body: { type: "private", member_ids: [dana.id] } });
    expect(created.status).toBe(200);
    const chat: number = created.body.id;
    const d = await WsClient.connect(server.url, dana.token);
    expect((await http.delete(`/chats/${chat}?for_all=false`, { token: dana.token })).status).toBe(204);
    await d.waitFor((f) => f.type === "chat_deleted" && f.data.chat_id === chat);

    const back = await sendText(alice, chat, "are you back");
    const created1 = await d.waitFor((f) => f.type === "message_created" && f.data.message?.id === back);
    const updated = await d.waitFor((f) => f.type === "chat_updated" && f.data.chat?.id === chat);
    expect(updated.seq).toBeLessThan(created1.seq as number);
    expect(updated.data.chat.last_message_text).toBe("are you back");
    // The message carries dana's counters like any other (she joined the receivers in that batch).
    expect({ unread: created1.data.unread_count, mentions: created1.data.unread_mentions_count }).toEqual({ unread: 1, mentions: 0 });
    // And the chat stays subscribed: the next message arrives too.
    const again = await sendText(alice, chat, "still there?");
    await d.waitFor((f) => f.type === "message_created" && f.data.message?.id === again);
    await d.close();
  });
});

describe("live frames of a message a receiver cannot see", () => {
  test("edits and reactions skip members who deleted the message for themselves or cleared past it", async () => {
    const chat = await createGroup(alice, [bob, carol], "unseen edits");
    const hidden = await sendText(alice, chat, "hidden for bob");
    const cleared = await sendText(alice, chat, "before carol's clear");
    expect((await http.delete(`/messages/${hidden}?for_all=false`, { token: bob.token })).status).toBe(204);
    expect((await http.post(`/chats/${chat}/clear`, { token: carol.token })).status).toBe(204);
    const b = await WsClient.connect(server.url, bob.token);
    const c = await WsClient.connect(server.url, carol.token);
    const a = await WsClient.connect(server.url, alice.token);

    expect((await http.put(`/messages/${hidden}`, { token: alice.token, body: { text: "edited hidden" } })).status).toBe(200);
    expect((await http.post(`/messages/${hidden}/reactions/toggle`, { token: alice.token, body: { emoji: "👀" } })).status).toBe(200);
    expect((await http.put(`/messages/${cleared}`, { token: alice.token, body: { text: "edited cleared" } })).status).toBe(200);
    const visible = await sendText(alice, chat, "after the clear");
    expect((await http.put(`/messages/${visible}`, { token: alice.token, body: { text: "edited visible" } })).status).toBe(200);
    // A sentinel after them: whoever gets it has had every earlier frame of the chat.
    const sentinel = await sendText(alice, chat, "sentinel");
    for (const ws of [a, b, c]) await ws.waitFor((f) => f.type === "message_created" && f.data.message?.id === sentinel);

    const about = (ws: WsClient) =>
      ws.frames.filter((f) => f.type === "message_updated" || f.type === "reactions_updated").map((f) => [f.type, f.data.message?.id ?? f.data.message_id]);
    // carol's clear point is `cleared` (the newest message when she cleared), so both came before it.
    expect(about(a)).toEqual([["message_updated", hidden], ["reactions_updated", hidden], ["message_updated", cleared], ["message_updated", visible]]);
    expect(about(b)).toEqual([["message_updated", cleared], ["message_updated", visible]]);
    expect(about(c)).toEqual([["message_updated", visible]]);
    await Promise.all([a.close(), b.close(), c.close()]);
  });
});
