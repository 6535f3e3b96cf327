/**
 * ChatRead's presence fields follow open sockets (CONTRACT §5, §8): online_count counts members with
 * a realtime connection, counterpart_is_online / counterpart_last_seen_at follow the counterpart's.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { presenceKeys } from "../../src/broker/broker";
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

test("a disconnect between the chat's read and its presence lookup still shows the new last_seen_at", async () => {
  // A fresh pair, so the counterpart has never been seen (last_seen_at null) before this session.
  const [viewer, subject] = await Promise.all([createUser(server), createUser(server)]);
  const chatId = (await http.post("/chats", { token: viewer.token, body: { type: "private", member_ids: [subject.id] } })).body.id;
  const socket = await WsClient.connect(server.url, subject.token);

  // Hold the read at its presence lookup (the real broker answers once released), so the
  // disconnect lands after the page statement and before presence is asked.
  const broker = server.app.broker;
  const leasesHeld = broker.leasesHeld.bind(broker);
  const isOnline = async () => (await leasesHeld(presenceKeys.online, [String(subject.id)]))[0];
  let reachedLookup!: () => void;
  const atLookup = new Promise<void>((resolve) => (reachedLookup = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const leaseMembers = broker.leaseMembers.bind(broker);
  const held = async () => {
    reachedLookup();
    await released;
  };
  // Presence is asked one of two ways, by the page's members or for everyone online.
  broker.leasesHeld = async (key, members) => {
    if (members.includes(String(subject.id))) await held();
    return leasesHeld(key, members);
  };
  broker.leaseMembers = async (key) => {
    await held();
    return leaseMembers(key);
  };
  try {
    const pending = chatOf(viewer, chatId);
    await atLookup;
    await socket.close();
    // The disconnect is complete once the lease is gone (last_seen_at is written before that).
    const deadline = Date.now() + 5000;
    while ((await isOnline()) && Date.now() < deadline) await Bun.sleep(20);
    expect(await isOnline()).toBe(false);
    release();
    const view = await pending;
    expect(view.counterpart_is_online).toBe(false);
    expect(typeof view.counterpart_last_seen_at).toBe("string");
  } finally {
    broker.leasesHeld = leasesHeld;
    broker.leaseMembers = leaseMembers;
    release();
  }
});

test("online_count counts only members whose presence the viewer may see: privacy_last_seen and blocks hold in groups too", async () => {
  const [hidden, friend, stranger, blockedOne] = await Promise.all([createUser(server), createUser(server), createUser(server), createUser(server)]);
  const handle = `oc${Date.now().toString(36)}`;
  const pub = (await http.post("/chats", { token: hidden.token, body: { type: "group", title: "Solo", is_public: true, handle } })).body.id as number;
  const pair = (await http.post("/chats", { token: hidden.token, body: { type: "group", title: "Pair", member_ids: [friend.id] } })).body.id as number;
  expect((await http.post(`/users/${friend.id}/contacts`, { token: hidden.token })).status).toBeLessThan(300);
  expect((await http.post(`/users/${blockedOne.id}/block`, { token: hidden.token })).status).toBe(204);
  const ws = await WsClient.connect(server.url, hidden.token);

  // Everyone may see: anyone counts her, except the one she blocked.
  expect((await chatOf(stranger, pub)).online_count).toBe(1);
  expect((await chatOf(blockedOne, pub)).online_count).toBe(0);
  expect((await chatOf(friend, pair)).online_count).toBe(1);

  // Contacts only: her contact still counts her, a stranger reading the public group does not.
  expect((await http.put("/users/profile", { token: hidden.token, body: { privacy_last_seen: "contacts" } })).status).toBe(200);
  expect((await chatOf(friend, pair)).online_count).toBe(1);
  expect((await chatOf(stranger, pub)).online_count).toBe(0);

  // Nobody: no one but herself.
  expect((await http.put("/users/profile", { token: hidden.token, body: { privacy_last_seen: "nobody" } })).status).toBe(200);
  expect((await chatOf(friend, pair)).online_count).toBe(0);
  expect((await chatOf(hidden, pair)).online_count).toBe(1);
  const list = (await http.get("/chats", { token: friend.token })).body as { id: number; online_count: number }[];
  expect(list.find((x) => x.id === pair)?.online_count).toBe(0);
  await ws.close();
});
