/**
 * Regression (realtime audit, 2026-11-25): a user's live socket missed the chat-level
 * `chat_updated` of their own joining (being added, joining a public group), which /sync and a
 * resume deliver: the shared event came before the user-level one that subscribes their sockets.
 * The live stream and the replayed stream of the same range must be the same events.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { WsClient } from "./ws-client";

let server: TestServer;
let http: ReturnType<typeof client>;
let owner: TestUser;
let joiner: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  [owner, joiner] = await Promise.all([createUser(server), createUser(server)]);
}, 60_000);

afterAll(async () => {
  await server.stop();
});

async function syncAfter(user: TestUser, since: number): Promise<{ seq: number; type: string }[]> {
  const out: { seq: number; type: string }[] = [];
  for (let at = since; ; ) {
    const page = await http.get(`/sync?since=${at}&limit=100`, { token: user.token });
    out.push(...(page.body.events as { seq: number; type: string }[]).map((e) => ({ seq: e.seq, type: e.type })));
    at = page.body.next_since;
    if (!page.body.has_more) return out;
  }
}

test("added to a group and joining a public one: the live socket gets every event /sync has, chat-level ones included", async () => {
  const ws = await WsClient.connect(server.url, joiner.token);
  const ready = ws.frames.find((f) => f.type === "ready");
  const from = Number(ready?.data.seq);
  const closed = await http.post("/chats", { token: owner.token, body: { type: "group", title: "added", member_ids: [] } });
  const open = await http.post("/chats", { token: owner.token, body: { type: "group", title: "open", member_ids: [], is_public: true, handle: `joinev_${Date.now()}` } });
  expect((await http.post(`/chats/${closed.body.id}/members`, { token: owner.token, body: { user_id: joiner.id } })).status).toBe(201);
  expect((await http.post(`/chats/${open.body.id}/join`, { token: joiner.token })).status).toBe(200);
  // A message after both: when it is in, everything before it is.
  const marker = await http.post("/messages", { token: owner.token, body: { chat_id: open.body.id, type: "text", text: "after the joins" } });
  await ws.waitFor((f) => f.type === "message_created" && f.data.message.id === marker.body.id);
  const live = ws.durable().map((f) => ({ seq: Number(f.seq), type: f.type }));
  const replayed = await syncAfter(joiner, from);
  expect(live).toEqual(replayed);
  // Among them the chat-level chat_updated of each join, with the joiner's own ChatRead.
  const shared = ws.durable().filter((f) => f.type === "chat_updated" && f.data.chat_id !== undefined);
  expect(shared.map((f) => f.data.chat_id).sort()).toEqual([closed.body.id, open.body.id].sort());
  for (const f of shared) expect(f.data.chat?.id).toBe(f.data.chat_id);
  await ws.close();
});
