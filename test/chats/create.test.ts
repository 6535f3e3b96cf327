import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { chatIds, createGroup, createPrivate, type Http, uniqueHandle } from "./helpers";

let server: TestServer;
let http: Http;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  alice = await createUser(server);
  bob = await createUser(server);
});
afterAll(() => server.stop());

describe("POST /chats private", () => {
  test("needs exactly one other user and cannot be public", async () => {
    const carol = await createUser(server);
    const cases = [
      { member_ids: [] },
      { member_ids: [bob.id, carol.id] },
      { member_ids: [alice.id] },
      { member_ids: [bob.id], is_public: true, handle: uniqueHandle() },
    ];
    for (const body of cases) {
      const r = await http.post("/chats", { token: alice.token, body: { type: "private", ...body } });
      expect(r.status).toBe(422);
      expect(typeof r.body.detail).toBe("string");
    }
    const unknown = await http.post("/chats", { token: alice.token, body: { type: "private", member_ids: [999999] } });
    expect(unknown.status).toBe(404);
  });

  test("creating an existing pair returns that chat, from either side", async () => {
    const dan = await createUser(server);
    const first = await createPrivate(http, alice, dan);
    const again = await createPrivate(http, alice, dan);
    const reverse = await createPrivate(http, dan, alice);
    expect(again.id).toBe(first.id);
    expect(reverse.id).toBe(first.id);
    expect(first).toMatchObject({
      type: "private",
      title: null,
      is_public: false,
      is_saved: false,
      members_count: 2,
      subscribers_count: null,
      my_role: "member",
      counterpart_user_id: dan.id,
      counterpart_name: dan.name,
      counterpart_username: dan.username,
      display_title: dan.name,
    });
    expect(reverse.display_title).toBe(alice.name);
    expect(first.public_id).toMatch(/^[0-9A-Z]{24}$/);
  });

  test("concurrent creations of one pair race to a single chat", async () => {
    const erin = await createUser(server);
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => createPrivate(http, i % 2 ? alice : erin, i % 2 ? erin : alice)));
    expect(new Set(results.map((c) => c.id)).size).toBe(1);
  });

  test("a user who blocked the caller cannot be messaged privately by them", async () => {
    const blocker = await createUser(server);
    expect((await http.post(`/users/${alice.id}/block`, { token: blocker.token })).status).toBe(204);
    const r = await http.post("/chats", { token: alice.token, body: { type: "private", member_ids: [blocker.id] } });
    expect(r.status).toBe(403);
  });

  test("allow_private_messages: false refuses users outside the target's contacts", async () => {
    const shy = await createUser(server);
    const friend = await createUser(server);
    expect((await http.put("/users/profile", { token: shy.token, body: { allow_private_messages: false } })).status).toBe(200);
    expect((await http.post("/chats", { token: alice.token, body: { type: "private", member_ids: [shy.id] } })).status).toBe(403);
    expect((await http.post(`/users/${friend.id}/contacts`, { token: shy.token })).status).toBe(204);
    expect((await http.post("/chats", { token: friend.token, body: { type: "private", member_ids: [shy.id] } })).status).toBe(200);
  });
});

describe("POST /chats group and channel", () => {
  test("title is required (1..128), public needs a valid handle", async () => {
    const bad = [
      { type: "group" },
      { type: "group", title: "   " },
      { type: "channel", title: "x".repeat(129) },
      { type: "group", title: "Pub", is_public: true },
      { type: "group", title: "Pub", is_public: true, handle: "Bad-Handle" },
      { type: "group", title: "Pub", is_public: true, handle: "abc" },
      { type: "secret", title: "Nope" },
    ];
    for (const body of bad) {
      const r = await http.post("/chats", { token: alice.token, body });
      expect(r.status).toBe(422);
    }
  });

  test("handle is unique (409)", async () => {
    const handle = uniqueHandle("dup");
    await createGroup(http, alice, { isPublic: true, handle });
    const r = await http.post("/chats", { token: bob.token, body: { type: "channel", title: "Other", is_public: true, handle } });
    expect(r.status).toBe(409);
  });

  test("creator is owner, members are members; channel counts subscribers", async () => {
    const carol = await createUser(server);
    const channel = await createGroup(http, alice, { type: "channel", members: [bob, carol], title: "News" });
    expect(channel).toMatchObject({ type: "channel", title: "News", display_title: "News", my_role: "owner", members_count: 3, subscribers_count: 3, counterpart_user_id: null });
    const detail = await http.get(`/chats/${channel.id}`, { token: bob.token });
    expect(detail.status).toBe(200);
    expect(detail.body.my_role).toBe("member");
    expect(detail.body.members.map((m: { user_id: number; role: string }) => [m.user_id, m.role])).toEqual([
      [alice.id, "owner"],
      [bob.id, "member"],
      [carol.id, "member"],
    ]);
    for (const m of detail.body.members) expect(Object.keys(m).sort()).toEqual(["id", "joined_at", "role", "user_id"]);
    expect(await chatIds(http, carol)).toContain(channel.id);
  });

  test("privacy_group_invites applies to initial members", async () => {
    const closed = await createUser(server);
    const picky = await createUser(server);
    const pickyFriend = await createUser(server);
    await http.put("/users/profile", { token: closed.token, body: { privacy_group_invites: "nobody" } });
    await http.put("/users/profile", { token: picky.token, body: { privacy_group_invites: "contacts" } });
    await http.post(`/users/${pickyFriend.id}/contacts`, { token: picky.token });
    expect((await http.post("/chats", { token: alice.token, body: { type: "group", title: "G", member_ids: [closed.id] } })).status).toBe(403);
    expect((await http.post("/chats", { token: alice.token, body: { type: "group", title: "G", member_ids: [picky.id] } })).status).toBe(403);
    const ok = await http.post("/chats", { token: pickyFriend.token, body: { type: "group", title: "G", member_ids: [picky.id] } });
    expect(ok.status).toBe(200);
    expect(ok.body.members_count).toBe(2);
  });

  test("a user who blocked the caller cannot be added by them; unknown users are 404", async () => {
    const blocker = await createUser(server);
    await http.post(`/users/${bob.id}/block`, { token: blocker.token });
    expect((await http.post("/chats", { token: bob.token, body: { type: "group", title: "G", member_ids: [blocker.id] } })).status).toBe(403);
    expect((await http.post("/chats", { token: bob.token, body: { type: "group", title: "G", member_ids: [987654] } })).status).toBe(404);
  });
});

describe("GET /chats/saved", () => {
  test("returns or creates the personal saved chat, one per user", async () => {
    const user = await createUser(server);
    const [a, b] = await Promise.all([http.get("/chats/saved", { token: user.token }), http.get("/chats/saved", { token: user.token })]);
    expect(a.status).toBe(200);
    expect(b.body.id).toBe(a.body.id);
    expect(a.body).toMatchObject({ is_saved: true, display_title: "Saved Messages", members_count: 1, counterpart_user_id: null });
    expect(await chatIds(http, user)).toEqual([a.body.id]);
    const other = await http.get("/chats/saved", { token: alice.token });
    expect(other.body.id).not.toBe(a.body.id);
  });
});

describe("discover and join", () => {
  test("discover finds public groups and channels by title or handle, with is_member", async () => {
    const handle = uniqueHandle("disc");
    const pub = await createGroup(http, alice, { isPublic: true, handle, title: "Gardening Club" });
    const hidden = await createGroup(http, alice, { title: "Gardening Secrets" });
    const byTitle = await http.get("/chats/discover?query=gardening", { token: bob.token });
    expect(byTitle.status).toBe(200);
    const ids = byTitle.body.map((c: { id: number }) => c.id);
    expect(ids).toContain(pub.id);
    expect(ids).not.toContain(hidden.id);
    const byHandle = await http.get(`/chats/discover?query=@${handle}`, { token: bob.token });
    expect(byHandle.body[0]).toEqual({
      id: pub.id,
      public_id: pub.public_id,
      type: "group",
      title: "Gardening Club",
      handle,
      description: null,
      avatar_url: null,
      members_count: 1,
      is_member: false,
    });
    const asOwner = await http.get(`/chats/discover?query=${handle}`, { token: alice.token });
    expect(asOwner.body[0].is_member).toBe(true);
    expect((await http.get("/chats/discover?limit=0", { token: bob.token })).status).toBe(422);
  });

  test("join a public chat; twice is a no-op; anything else is 404", async () => {
    const pub = await createGroup(http, alice, { type: "channel", isPublic: true });
    const first = await http.post(`/chats/${pub.id}/join`, { token: bob.token });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ id: pub.id, my_role: "member", members_count: 2, subscribers_count: 2 });
    const second = await http.post(`/chats/${pub.id}/join`, { token: bob.token });
    expect(second.status).toBe(200);
    expect(second.body.members_count).toBe(2);
    const closed = await createGroup(http, alice);
    expect((await http.post(`/chats/${closed.id}/join`, { token: bob.token })).status).toBe(404);
    const carol = await createUser(server);
    const priv = await createPrivate(http, alice, carol);
    expect((await http.post(`/chats/${priv.id}/join`, { token: bob.token })).status).toBe(404);
    expect((await http.post(`/chats/99999999/join`, { token: bob.token })).status).toBe(404);
  });

  test("a public chat is visible to non-members (detail and members), a closed one is not", async () => {
    const pub = await createGroup(http, alice, { isPublic: true });
    const outsider = await createUser(server);
    const detail = await http.get(`/chats/${pub.id}`, { token: outsider.token });
    expect(detail.status).toBe(200);
    expect(detail.body.my_role).toBeNull();
    expect((await http.get(`/chats/${pub.id}/members`, { token: outsider.token })).status).toBe(200);
    const closed = await createGroup(http, alice, { members: [bob] });
    const r = await http.get(`/chats/${closed.id}`, { token: outsider.token });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ detail: "Chat not found" });
    expect((await http.get(`/chats/${closed.id}/members`, { token: outsider.token })).status).toBe(404);
  });
});
