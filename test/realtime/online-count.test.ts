/**
 * ChatRead's presence fields follow open sockets (CONTRACT §5, §8): online_count counts members with
 * a realtime connection, counterpart_is_online / counterpart_last_seen_at follow the counterpart's.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { WsClient } from "./ws-client";

let server: TestServer;
let http: ReturnType<typeof client>;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let privateId: number;
let groupId: number;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  [alice, bob, carol] = await Promise.all([createUser(server), createUser(server), createUser(server)]);
  privateId = (await http.post("/chats", { token: alice.token, body: { type: "private", member_ids: [bob.id] } })).body.id;
  groupId = (await http.post("/chats", { token: alice.token, body: { type: "group", title: "Trio", member_ids: [bob.id, carol.id] } })).body.id;
}, 120_000);
afterAll(() => server.stop());

const chatOf = async (viewer: TestUser, id: number) => (await http.get(`/chats/${id}`, { token: viewer.token })).body;

test("online_count and counterpart presence follow open sockets", async () => {
  expect((await chatOf(alice, groupId)).online_count).toBe(0);
  expect((await chatOf(alice, privateId)).counterpart_is_online).toBe(false);

  const b = await WsClient.connect(server.url, bob.token);
  const c = await WsClient.connect(server.url, carol.token);
  expect((await chatOf(alice, groupId)).online_count).toBe(2);
  expect((await chatOf(alice, privateId)).online_count).toBe(1);
  expect((await chatOf(alice, privateId)).counterpart_is_online).toBe(true);
  const list = (await http.get("/chats", { token: alice.token })).body as { id: number; online_count: number }[];
  expect(list.find((x) => x.id === groupId)?.online_count).toBe(2);

  await b.close();
  await c.close();
  // The last close sets last_seen_at; presence is released on close, not at lease expiry.
  const deadline = Date.now() + 5000;
  let view = await chatOf(alice, privateId);
  while (view.counterpart_is_online && Date.now() < deadline) {
    await Bun.sleep(50);
    view = await chatOf(alice, privateId);
  }
  expect(view.counterpart_is_online).toBe(false);
  expect(typeof view.counterpart_last_seen_at).toBe("string");
  expect((await chatOf(alice, groupId)).online_count).toBe(0);
});
