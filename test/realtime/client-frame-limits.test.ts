/**
 * What one socket or one account may ask of an instance (resource audit, 2026-11-25): client frames
 * that need the database run one at a time per socket, status marks of one chat waiting together
 * are merged, a socket with too many different frames waiting is refused the rest, and one user's
 * sockets per instance are capped (WS_MAX_CONNECTIONS_PER_USER). Before, 20,000 `message_read`
 * frames from one socket each started a transaction at once, and one token opened 20,000 sockets.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { client } from "../helpers/http";
import { startTestServer, usingPostgres, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { WsClient } from "./ws-client";

let server: TestServer;
let http: ReturnType<typeof client>;
let alice: TestUser;
let bob: TestUser;
let group: number;
const messageIds: number[] = [];

beforeAll(async () => {
  server = await startTestServer({ env: { WS_MAX_CONNECTIONS_PER_USER: "3", MESSAGE_RATE_LIMIT_PER_MINUTE: "0", DUPLICATE_MESSAGE_COOLDOWN_SECONDS: "0" } });
  http = client(server.url);
  [alice, bob] = await Promise.all([createUser(server), createUser(server)]);
  const r = await http.post("/chats", { token: alice.token, body: { type: "group", title: "marks", member_ids: [bob.id] } });
  group = r.body.id;
  for (let i = 0; i < 120; i++) {
    const m = await http.post("/messages", { token: alice.token, body: { chat_id: group, type: "text", text: `m${i}` } });
    messageIds.push(m.body.id);
  }
}, 120_000);

afterAll(async () => {
  await server.stop();
});

/** The user's whole event stream through /sync, page by page. */
async function allEvents(user: TestUser): Promise<{ type: string; data: { user_id?: number } }[]> {
  const out: { type: string; data: { user_id?: number } }[] = [];
  for (let since = 0; ; ) {
    const page = await http.get(`/sync?since=${since}&limit=100`, { token: user.token });
    if (page.status !== 200) throw new Error(`sync: ${page.status} ${page.text}`);
    out.push(...page.body.events);
    since = page.body.next_since;
    if (!page.body.has_more) return out;
  }
}

// PGlite answers within the turn that asked (no I/O), so each frame is done before the next arrives
// and nothing ever waits: the queue shows on PostgreSQL only.
describe.skipIf(!usingPostgres)("client frames", () => {
  test("a burst of read marks for one chat ends at the furthest mark, in a few transactions rather than one per frame", async () => {
    const ws = await WsClient.connect(server.url, bob.token);
    for (const id of messageIds) ws.send({ type: "message_read", chat_id: group, message_id: id });
    const last = messageIds[messageIds.length - 1];
    await ws.waitFor((f) => f.type === "message_read" && f.data.user_id === bob.id && f.data.message_id === last, 10_000);
    const status = await http.get(`/chats/${group}`, { token: bob.token });
    expect(status.body.unread_count).toBe(0);
    // Alice (a member) sees each mark that moved as one message_read of Bob's (his first marks).
    const reads = (await allEvents(alice)).filter((e) => e.type === "message_read" && e.data.user_id === bob.id);
    expect(reads.length).toBeGreaterThan(0);
    // One transaction for the first frame, one for the rest merged while it ran (one per frame
    // before: 5 to 34 marks moved in three runs, the rest found the mark past them already).
    expect(reads.length).toBeLessThanOrEqual(3);
    expect(ws.frames.filter((f) => f.type === "error")).toEqual([]);
    await ws.close();
  }, 30_000);

  test("a socket with 64 different frames waiting is refused more, with an error frame each; every frame is answered", async () => {
    const ws = await WsClient.connect(server.url, bob.token);
    // Typing in 200 chats Bob is not in: each needs a membership read, each answers an error.
    for (let i = 0; i < 200; i++) ws.send({ type: "typing", chat_id: 900_000 + i });
    await ws.waitFor(() => ws.frames.filter((f) => f.type === "error").length >= 200, 10_000).catch(() => undefined);
    const errors = ws.frames.filter((f) => f.type === "error").map((f) => String(f.data.detail));
    expect(errors.length).toBe(200);
    const refused = errors.filter((d) => d === "Too many frames waiting: slow down").length;
    expect(refused).toBeGreaterThan(0);
    expect(errors.filter((d) => d === "Chat not found").length).toBe(200 - refused);
    expect(errors.filter((d) => d === "Chat not found").length).toBeGreaterThanOrEqual(64);
    // The socket stays open and answers.
    ws.send({ type: "ping" });
    await ws.next("pong");
    await ws.close();
  }, 30_000);
});

describe("sockets per user", () => {
  test("past WS_MAX_CONNECTIONS_PER_USER an upgrade answers 429; a closed socket frees its place", async () => {
    const open = await Promise.all([0, 1, 2].map(() => WsClient.connect(server.url, alice.token)));
    const refused = await fetch(`${server.url}/ws?token=${alice.token}`, { headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } });
    expect(refused.status).toBe(429);
    expect((await refused.json()).detail).toBe("Too many connections for this user");
    // Another user is not affected.
    const other = await WsClient.connect(server.url, bob.token);
    await other.close();
    const [first, ...rest] = open;
    await first?.close();
    const again = await WsClient.connect(server.url, alice.token);
    await Promise.all([again, ...rest].map((c) => c.close()));
  }, 30_000);
});
