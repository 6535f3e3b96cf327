/**
 * The chat list asks presence only about the members of the chats it answers (CONTRACT §5:
 * online_count, counterpart_is_online): never every user online when those are more than the
 * page's members, since reading them all cost 9.5 ms per call at 1,000 online and 23 ms at 10,000.
 * Users are put online through their `presence:online` lease directly (what an open socket holds),
 * so no socket or presence sweep touches the broker while a request is counted.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { presenceKeys, type Broker } from "../../src/broker/broker";
import { createGroup, createPrivate } from "../chats/helpers";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";

let server: TestServer;
let http: ReturnType<typeof client>;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let dave: TestUser;
let privateId: number;
let groupId: number;
let savedId: number;
/** Broker calls made while `counting`, by method and key. */
const calls: { method: string; key: string; members: number }[] = [];
let counting = false;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  [alice, bob, carol, dave] = await Promise.all([createUser(server), createUser(server), createUser(server), createUser(server)]);
  privateId = (await createPrivate(http, alice, bob)).id;
  groupId = (await createGroup(http, alice, { members: [bob, carol, dave] })).id;
  savedId = (await http.get("/chats/saved", { token: alice.token })).body.id;
  recordLookups(server.app.broker);
}, 120_000);
afterAll(() => server.stop());

function recordLookups(broker: Broker) {
  const { leaseMembers, leasesHeld, leaseCount } = broker;
  broker.leaseMembers = (key) => {
    if (counting) calls.push({ method: "leaseMembers", key, members: 0 });
    return leaseMembers.call(broker, key);
  };
  broker.leasesHeld = (key, members) => {
    if (counting) calls.push({ method: "leasesHeld", key, members: members.length });
    return leasesHeld.call(broker, key, members);
  };
  broker.leaseCount = (key) => {
    if (counting) calls.push({ method: "leaseCount", key, members: 0 });
    return leaseCount.call(broker, key);
  };
}

const online = (ids: (number | string)[]) => server.app.broker.leaseAddMany(ids.map((id) => [presenceKeys.online, String(id)] as const), 60);
const offline = (ids: (number | string)[]) => Promise.all(ids.map((id) => server.app.broker.leaseRemove(presenceKeys.online, String(id))));
/** Users online who share no chat with alice (ids no user has). */
const strangers = Array.from({ length: 50 }, (_, i) => `${2_000_000_000 + i}`);

interface ListedChat {
  id: number;
  online_count: number;
  counterpart_is_online: boolean | null;
}

async function aliceList(): Promise<Map<number, ListedChat>> {
  calls.length = 0;
  counting = true;
  try {
    const r = await http.get("/chats?limit=50", { token: alice.token });
    expect(r.status).toBe(200);
    return new Map((r.body as ListedChat[]).map((c) => [c.id, c]));
  } finally {
    counting = false;
  }
}

const readsEveryoneOnline = () => calls.some((c) => c.method === "leaseMembers" && c.key === presenceKeys.online);

test("nobody online: zero counts from one count of the online set, no member asked about", async () => {
  const list = await aliceList();
  expect(list.get(groupId)?.online_count).toBe(0);
  expect(list.get(privateId)).toMatchObject({ online_count: 0, counterpart_is_online: false });
  expect(calls).toEqual([{ method: "leaseCount", key: presenceKeys.online, members: 0 }]);
});

test("more users online than the page has members: only the page's members are asked about", async () => {
  await online([bob.id, carol.id, ...strangers]);
  try {
    const list = await aliceList();
    expect(list.get(groupId)?.online_count).toBe(2);
    expect(list.get(privateId)).toMatchObject({ online_count: 1, counterpart_is_online: true });
    expect(list.get(savedId)?.online_count).toBe(0);
    expect(readsEveryoneOnline()).toBe(false);
    // The members of the private chat and of the group (alice counted once), none of the strangers.
    expect(calls.filter((c) => c.method === "leasesHeld")).toEqual([{ method: "leasesHeld", key: presenceKeys.online, members: 4 }]);
  } finally {
    await offline([bob.id, carol.id, ...strangers]);
  }
});

test("fewer users online than the page has members: the online set is read once, with the same answers", async () => {
  await online([alice.id, dave.id]);
  try {
    const list = await aliceList();
    expect(list.get(groupId)?.online_count).toBe(2);
    expect(list.get(privateId)).toMatchObject({ online_count: 1, counterpart_is_online: false });
    expect(list.get(savedId)?.online_count).toBe(1); // alice herself, its only member
    expect(calls.filter((c) => c.method === "leaseMembers" && c.key === presenceKeys.online).length).toBe(1);
    expect(calls.some((c) => c.method === "leasesHeld")).toBe(false);
  } finally {
    await offline([alice.id, dave.id]);
  }
});

test("a chat read on its own (GET /chats/{id}) counts the same way", async () => {
  await online([bob.id, dave.id, ...strangers]);
  try {
    calls.length = 0;
    counting = true;
    const group = (await http.get(`/chats/${groupId}`, { token: alice.token })).body as ListedChat;
    const priv = (await http.get(`/chats/${privateId}`, { token: alice.token })).body as ListedChat;
    counting = false;
    expect(group.online_count).toBe(2);
    expect(priv).toMatchObject({ online_count: 1, counterpart_is_online: true });
    expect(readsEveryoneOnline()).toBe(false);
  } finally {
    counting = false;
    await offline([bob.id, dave.id, ...strangers]);
  }
});

test("online_count leaves out a member who hides their presence, in a private chat and in a group; the saved chat counts its owner", async () => {
  await online([alice.id, bob.id]);
  try {
    expect((await aliceList()).get(privateId)).toMatchObject({ online_count: 2, counterpart_is_online: true });
    expect((await http.put("/users/profile", { token: bob.token, body: { privacy_last_seen: "nobody" } })).status).toBe(200);
    const list = await aliceList();
    expect(list.get(privateId)).toMatchObject({ online_count: 1, counterpart_is_online: null }); // alice only
    // In a group too: a count with bob in it would tell alice when he is online (docs/decisions.md).
    expect(list.get(groupId)?.online_count).toBe(1);
    expect(list.get(savedId)?.online_count).toBe(1);
    expect((await http.get(`/chats/${privateId}`, { token: alice.token })).body).toMatchObject({ online_count: 1, counterpart_is_online: null });
    // Bob still sees alice (her presence is not hidden) and himself.
    expect((await http.get(`/chats/${privateId}`, { token: bob.token })).body).toMatchObject({ online_count: 2, counterpart_is_online: true });
  } finally {
    await http.put("/users/profile", { token: bob.token, body: { privacy_last_seen: "everyone" } });
    await offline([alice.id, bob.id]);
  }
});
