import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { chatIds, createGroup, createPrivate, type Http, sendText } from "./helpers";

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

async function chatOf(user: TestUser, chatId: number) {
  const r = await http.get(`/chats/${chatId}`, { token: user.token });
  expect(r.status).toBe(200);
  return r.body;
}

describe("GET /chats order and paging", () => {
  let user: TestUser;
  const made: number[] = [];

  beforeAll(async () => {
    user = await createUser(server);
    for (let i = 0; i < 7; i++) made.push((await createGroup(http, user, { title: `Paging ${i}` })).id);
  });

  test("pinned first, then by last activity (newest message, else creation), newest first", async () => {
    // Activity: a message in the oldest chat moves it to the top of the unpinned part.
    await sendText(http, user, made[0] as number, "bump");
    expect((await http.post(`/chats/${made[3]}/pin-chat`, { token: user.token })).status).toBe(200);
    expect((await http.post(`/chats/${made[5]}/pin-chat`, { token: user.token })).status).toBe(200);
    const ids = await chatIds(http, user);
    expect(ids).toEqual([made[5], made[3], made[0], made[6], made[4], made[2], made[1]] as number[]);
    const list = await http.get("/chats", { token: user.token });
    expect(list.body.slice(0, 2).map((c: { pinned: boolean }) => c.pinned)).toEqual([true, true]);
    expect(list.body[2].last_message_text).toBe("bump");
  });

  test("a newest message deleted for everyone no longer counts as activity: the next newest does, else creation", async () => {
    const owner = await createUser(server);
    const older = (await createGroup(http, owner, { title: "Activity older" })).id;
    const newer = (await createGroup(http, owner, { title: "Activity newer" })).id;
    const first = await sendText(http, owner, older, "first");
    const second = await sendText(http, owner, older, "second");
    expect(await chatIds(http, owner)).toEqual([older, newer]);
    expect((await http.delete(`/messages/${second}?for_all=true`, { token: owner.token })).status).toBe(204);
    expect(await chatIds(http, owner)).toEqual([older, newer]); // "first" is still newer than the other chat
    const bump = await sendText(http, owner, newer, "bump");
    expect(await chatIds(http, owner)).toEqual([newer, older]);
    expect((await http.delete(`/messages/${bump}?for_all=true`, { token: owner.token })).status).toBe(204);
    expect(await chatIds(http, owner)).toEqual([older, newer]); // back to its creation, before "first"
    expect((await http.delete(`/messages/${first}?for_all=true`, { token: owner.token })).status).toBe(204);
    expect(await chatIds(http, owner)).toEqual([newer, older]); // both by creation now
    // Deleting an older message leaves a newer activity alone.
    const a = await sendText(http, owner, older, "a");
    await sendText(http, owner, older, "b");
    expect((await http.delete(`/messages/${a}?for_all=true`, { token: owner.token })).status).toBe(204);
    expect((await http.get("/chats", { token: owner.token })).body[0]).toMatchObject({ id: older, last_message_text: "b" });
  });

  test("paging with limit 1..3 and before_id visits every chat exactly once, in order", async () => {
    const full = await chatIds(http, user);
    expect(full.length).toBe(7);
    for (const limit of [1, 2, 3]) {
      const seen: number[] = [];
      let cursor: number | undefined;
      for (let page = 0; page < 20; page++) {
        const r = await http.get(`/chats?limit=${limit}${cursor ? `&before_id=${cursor}` : ""}`, { token: user.token });
        expect(r.status).toBe(200);
        expect(r.body.length).toBeLessThanOrEqual(limit);
        if (r.body.length === 0) break;
        seen.push(...r.body.map((c: { id: number }) => c.id));
        cursor = r.body[r.body.length - 1].id;
      }
      expect(seen).toEqual(full);
    }
  });

  test("limit outside 1..100 and a foreign before_id are 422", async () => {
    for (const q of ["limit=0", "limit=101", "limit=abc", `before_id=${made[0]}`]) {
      const r = await http.get(`/chats?${q}`, { token: q.startsWith("before") ? alice.token : user.token });
      expect(r.status).toBe(422);
    }
  });

  test("query filters on display title, handle and type", async () => {
    const priv = await createPrivate(http, user, bob);
    expect(await chatIds(http, user, "&query=paging 4")).toEqual([made[4] as number]);
    expect(await chatIds(http, user, `&query=${encodeURIComponent(bob.name)}`)).toEqual([priv.id]);
    expect(await chatIds(http, user, "&query=private")).toEqual([priv.id]);
    expect((await chatIds(http, user, "&query=group")).length).toBe(7);
  });

  test("archived chats are listed only with archived=true", async () => {
    const r = await http.post(`/chats/${made[1]}/archive`, { token: user.token });
    expect(r.status).toBe(200);
    expect(r.body.archived).toBe(true);
    expect(await chatIds(http, user)).not.toContain(made[1] as number);
    expect(await chatIds(http, user, "&archived=true")).toEqual([made[1] as number]);
    const back = await http.post(`/chats/${made[1]}/unarchive`, { token: user.token });
    expect(back.body.archived).toBe(false);
    expect(await chatIds(http, user)).toContain(made[1] as number);
  });
});

describe("unread counts and last message", () => {
  test("unread_count and unread_mentions_count follow the read mark and the clear point", async () => {
    const group = await createGroup(http, alice, { members: [bob] });
    await sendText(http, alice, group.id, "my own message is never unread for me");
    await sendText(http, bob, group.id, "one");
    await sendText(http, bob, group.id, `hey @${alice.username}`);
    const last = await sendText(http, bob, group.id, "three");
    let view = await chatOf(alice, group.id);
    expect(view).toMatchObject({ unread_count: 3, unread_mentions_count: 1, last_message_text: "three", last_message_type: "text" });
    expect(typeof view.last_message_created_at).toBe("string");
    expect((await chatOf(bob, group.id)).unread_count).toBe(1);

    const status = await http.post("/messages/status", { token: alice.token, body: { chat_id: group.id, message_id: last, status: "message_read" } });
    expect(status.status).toBe(200);
    view = await chatOf(alice, group.id);
    expect(view).toMatchObject({ unread_count: 0, unread_mentions_count: 0 });

    await sendText(http, bob, group.id, "four");
    expect((await chatOf(alice, group.id)).unread_count).toBe(1);
    expect((await http.post(`/chats/${group.id}/clear`, { token: alice.token })).status).toBe(204);
    view = await chatOf(alice, group.id);
    expect(view).toMatchObject({ unread_count: 0, last_message_text: null, last_message_type: null, last_message_created_at: null });
    // Clearing is the caller's alone.
    expect((await chatOf(bob, group.id)).last_message_text).toBe("four");
  });

  test("last_message_* skips messages deleted for all or hidden for the caller", async () => {
    const group = await createGroup(http, alice, { members: [bob] });
    await sendText(http, bob, group.id, "visible");
    const hiddenForAlice = await sendText(http, bob, group.id, "hidden for alice");
    const deleted = await sendText(http, bob, group.id, "deleted for all");
    expect((await http.delete(`/messages/${deleted}?for_all=true`, { token: bob.token })).status).toBe(204);
    expect((await http.delete(`/messages/${hiddenForAlice}?for_all=false`, { token: alice.token })).status).toBe(204);
    const aliceView = await chatOf(alice, group.id);
    expect(aliceView).toMatchObject({ last_message_text: "visible", unread_count: 1 });
    expect((await chatOf(bob, group.id)).last_message_text).toBe("hidden for alice");
  });

  test("a member who joins later starts with nothing unread", async () => {
    const pub = await createGroup(http, alice, { isPublic: true });
    await sendText(http, alice, pub.id, "before you came");
    const late = await createUser(server);
    const joined = await http.post(`/chats/${pub.id}/join`, { token: late.token });
    expect(joined.body).toMatchObject({ unread_count: 0, last_message_text: "before you came" });
  });
});

describe("per-user flags", () => {
  test("archive, pin-chat and mute never leak to other members", async () => {
    const group = await createGroup(http, alice, { members: [bob] });
    expect((await http.post(`/chats/${group.id}/archive`, { token: alice.token })).body.archived).toBe(true);
    const pinned = await http.post(`/chats/${group.id}/pin-chat`, { token: alice.token });
    expect(pinned.body.pinned).toBe(true);
    const muted = await http.put(`/chats/${group.id}/notifications`, { token: alice.token, body: { muted: true } });
    expect(muted.status).toBe(200);
    expect(muted.body).toEqual({ chat_id: group.id, user_id: alice.id, muted: true });

    expect(await chatOf(bob, group.id)).toMatchObject({ archived: false, pinned: false });
    expect((await http.get(`/chats/${group.id}/notifications`, { token: bob.token })).body).toEqual({ chat_id: group.id, user_id: bob.id, muted: false });
    expect((await http.get(`/chats/${group.id}/notifications`, { token: alice.token })).body.muted).toBe(true);
    expect(await chatIds(http, bob)).toContain(group.id);

    const unpinned = await http.post(`/chats/${group.id}/unpin-chat`, { token: alice.token });
    expect(unpinned.body.pinned).toBe(false);
  });
});

describe("private chat counterpart and privacy", () => {
  test("counterpart avatar and presence follow the counterpart's privacy settings", async () => {
    const carol = await createUser(server);
    await http.put("/users/profile", { token: carol.token, body: { avatar_url: "https://cdn.example.com/c.png" } });
    const chat = await createPrivate(http, alice, carol);
    let view = await chatOf(alice, chat.id);
    expect(view).toMatchObject({ counterpart_avatar_url: "https://cdn.example.com/c.png", counterpart_is_online: false, online_count: 0 });

    await http.put("/users/profile", { token: carol.token, body: { privacy_avatar: "nobody", privacy_last_seen: "contacts" } });
    view = await chatOf(alice, chat.id);
    expect(view).toMatchObject({ counterpart_avatar_url: null, counterpart_is_online: null, counterpart_last_seen_at: null });

    await http.post(`/users/${alice.id}/contacts`, { token: carol.token });
    view = await chatOf(alice, chat.id);
    expect(view.counterpart_is_online).toBe(false);
    expect(view.counterpart_avatar_url).toBeNull();
  });

  test("a private chat deleted for me leaves my list and comes back with the next message", async () => {
    const dan = await createUser(server);
    const chat = await createPrivate(http, alice, dan);
    await sendText(http, dan, chat.id, "old news");
    expect((await http.delete(`/chats/${chat.id}?for_all=false`, { token: alice.token })).status).toBe(204);
    expect(await chatIds(http, alice)).not.toContain(chat.id);
    expect(await chatIds(http, dan)).toContain(chat.id);
    await sendText(http, dan, chat.id, "new news");
    expect(await chatIds(http, alice)).toContain(chat.id);
    const view = await chatOf(alice, chat.id);
    expect(view).toMatchObject({ last_message_text: "new news", unread_count: 1 });
  });
});
