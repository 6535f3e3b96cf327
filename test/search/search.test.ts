import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { queryRows } from "../../src/db/client";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { chatOf, sendText, type Http } from "../messages/support";
import { planText } from "../helpers/plan-text";

let server: TestServer;
let http: Http;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  [alice, bob, carol] = await Promise.all([createUser(server), createUser(server), createUser(server)]);
});
afterAll(() => server.stop());

let wordSeq = 0;
const freshWord = () => `zq${Date.now().toString(36)}x${++wordSeq}`;
const search = async (u: TestUser, query: string, extra = "") => {
  const r = await http.get(`/messages/search?query=${encodeURIComponent(query)}${extra}`, { token: u.token });
  expect(r.status).toBe(200);
  return (r.body as { id: number }[]).map((m) => m.id);
};

describe("GET /messages/search", () => {
  test("case-insensitive substring, newest first, across the caller's chats only", async () => {
    const word = freshWord();
    const mine = await chatOf(server, "group", alice, [bob]);
    const other = await chatOf(server, "private", alice, [carol]);
    const foreign = await chatOf(server, "group", carol, [bob]);
    const a = await sendText(http, bob, mine, `first ${word.toUpperCase()} here`);
    const b = await sendText(http, carol, other, `second ${word}`);
    await sendText(http, carol, foreign, `not yours ${word}`);
    await sendText(http, alice, mine, "unrelated");
    expect(await search(alice, word)).toEqual([b.id, a.id]);
    expect(await search(alice, word, `&chat_id=${mine}`)).toEqual([a.id]);
    expect(await search(alice, word, "&limit=1")).toEqual([b.id]);
  });

  test("text is found as written whatever its letters: Turkish İ and a Greek final Σ (JavaScript and PostgreSQL lower-case them differently)", async () => {
    const chat = await chatOf(server, "group", alice, [bob]);
    const tag = freshWord();
    const turkish = await sendText(http, bob, chat, `${tag} İstanbul`);
    const greek = await sendText(http, bob, chat, `${tag} ΣΊΣΥΦΟΣ`);
    expect(await search(alice, `${tag} İstanbul`)).toEqual([turkish.id]);
    expect(await search(alice, "ΣΊΣΥΦΟΣ", `&chat_id=${chat}`)).toEqual([greek.id]);
    // The chat list's and discover's title filters use the same pattern.
    const titled = await http.post("/chats", { token: alice.token, body: { type: "group", title: `ΟΔΥΣΣΕΑΣ İZMİR ${tag}`, member_ids: [] } });
    for (const query of ["ΟΔΥΣΣΕΑΣ", "İZMİR"]) {
      const list = await http.get(`/chats?query=${encodeURIComponent(query)}`, { token: alice.token });
      expect(list.body.map((c: { id: number }) => c.id)).toContain(titled.body.id);
    }
  });

  test("LIKE wildcards in the query match themselves", async () => {
    const chat = await chatOf(server, "group", alice, []);
    const tag = freshWord();
    const pct = await sendText(http, alice, chat, `${tag} 100% sure`);
    await sendText(http, alice, chat, `${tag} 1000 sure`);
    const under = await sendText(http, alice, chat, `${tag} a_b`);
    await sendText(http, alice, chat, `${tag} axb`);
    expect(await search(alice, `${tag} 100%`)).toEqual([pct.id]);
    expect(await search(alice, "a_b", `&chat_id=${chat}`)).toEqual([under.id]);
  });

  test("never returns a message from a chat the caller left or cleared, or one deleted for them or for all", async () => {
    const word = freshWord();
    const left = await chatOf(server, "group", carol, [alice]);
    const cleared = await chatOf(server, "group", carol, [alice]);
    const kept = await chatOf(server, "group", carol, [alice]);
    await sendText(http, carol, left, `${word} in left`);
    const beforeClear = await sendText(http, carol, cleared, `${word} before clear`);
    const hiddenForMe = await sendText(http, carol, kept, `${word} hidden for me`);
    const deletedForAll = await sendText(http, carol, kept, `${word} deleted for all`);
    const visible = await sendText(http, carol, kept, `${word} visible`);
    expect((await search(alice, word)).length).toBe(5);

    expect((await http.post(`/chats/${left}/leave`, { token: alice.token })).status).toBe(204);
    expect((await http.post(`/chats/${cleared}/clear`, { token: alice.token })).status).toBe(204);
    expect((await http.delete(`/messages/${hiddenForMe.id}?for_all=false`, { token: alice.token })).status).toBe(204);
    expect((await http.delete(`/messages/${deletedForAll.id}?for_all=true`, { token: carol.token })).status).toBe(204);
    expect(await search(alice, word)).toEqual([visible.id]);
    // The others still see what is theirs to see.
    expect(await search(carol, word)).toContain(beforeClear.id);
    expect(await search(carol, word)).not.toContain(deletedForAll.id);
    // A message arriving after the clear point is found again.
    const after = await sendText(http, carol, cleared, `${word} after clear`);
    expect(await search(alice, word)).toEqual([after.id, visible.id]);
  });

  test("422 for a blank query or a limit outside 1..100; 404 for a chat_id the caller is not in", async () => {
    for (const q of ["", "%20%20"]) {
      const r = await http.get(`/messages/search?query=${q}`, { token: alice.token });
      expect(r.status).toBe(422);
      expect(r.body.detail).toBe("query: must not be empty");
    }
    expect((await http.get("/messages/search", { token: alice.token })).status).toBe(422);
    for (const limit of [0, 101]) expect((await http.get(`/messages/search?query=abc&limit=${limit}`, { token: alice.token })).status).toBe(422);
    const foreign = await chatOf(server, "group", carol, []);
    expect((await http.get(`/messages/search?query=abc&chat_id=${foreign}`, { token: alice.token })).status).toBe(404);
  });

  test("the search is served by the trigram index keyed by chat, with or without a chat", async () => {
    const plan = (query: ReturnType<typeof sql>) =>
      server.app.db.transaction(async (tx) => {
        await tx.execute(sql`set local enable_seqscan = off`);
        const rows = await queryRows<Record<string, string>>(tx, sql`explain ${query}`);
        return planText(rows);
      });
    expect(await plan(sql`select id from messages where lower(text) like ${"%needle%"}`)).toContain("messages_chat_text_trgm");
    // Keyed by chat (btree_gin): a search in a few chats reads only their entries.
    const [index] = await queryRows<{ indexdef: string }>(server.app.db, sql`select indexdef from pg_indexes where indexname = 'messages_chat_text_trgm'`);
    expect(index?.indexdef).toContain("USING gin (chat_id, lower(text) gin_trgm_ops)");
  });
});

describe("GET /search", () => {
  test("users, the caller's chats and messages, each with its own limit", async () => {
    const word = freshWord();
    const named = await createUser(server, { username: `${word}_user`, name: `Person ${word}` });
    const group = await chatOf(server, "group", alice, [bob]);
    await server.app.db.execute(sql`update chats set title = ${`Team ${word}`} where id = ${group}`);
    const strangers = await chatOf(server, "group", carol, []);
    await server.app.db.execute(sql`update chats set title = ${`Secret ${word}`} where id = ${strangers}`);
    const m1 = await sendText(http, bob, group, `${word} one`);
    const m2 = await sendText(http, bob, group, `${word} two`);
    await sendText(http, carol, strangers, `${word} hidden`);

    const r = await http.get(`/search?query=${word}`, { token: alice.token });
    expect(r.status).toBe(200);
    expect(Object.keys(r.body).sort()).toEqual(["chats", "messages", "users"]);
    expect(r.body.users.map((u: { id: number }) => u.id)).toEqual([named.id]);
    expect(r.body.users[0]).toMatchObject({ id: named.id, username: named.username, name: named.name });
    expect(r.body.chats.map((c: { id: number }) => c.id)).toEqual([group]);
    expect(r.body.chats[0]).toHaveProperty("unread_count");
    expect(r.body.messages.map((m: { id: number }) => m.id)).toEqual([m2.id, m1.id]);

    const limited = await http.get(`/search?query=${word}&users_limit=1&chats_limit=1&messages_limit=1`, { token: alice.token });
    expect(limited.body.messages.map((m: { id: number }) => m.id)).toEqual([m2.id]);
  });

  test("archived chats are found too; limits outside 1..100 and a blank query are 422", async () => {
    const word = freshWord();
    const group = await chatOf(server, "group", alice, []);
    await server.app.db.execute(sql`update chats set title = ${`Archive ${word}`} where id = ${group}`);
    expect((await http.post(`/chats/${group}/archive`, { token: alice.token })).status).toBe(200);
    const r = await http.get(`/search?query=${word}`, { token: alice.token });
    expect(r.body.chats.map((c: { id: number }) => c.id)).toEqual([group]);
    for (const bad of ["users_limit=0", "chats_limit=101", "messages_limit=0"])
      expect((await http.get(`/search?query=${word}&${bad}`, { token: alice.token })).status).toBe(422);
    expect((await http.get("/search?query=%20", { token: alice.token })).status).toBe(422);
    expect((await http.get(`/search?query=${word}`)).status).toBe(401);
  });
});
