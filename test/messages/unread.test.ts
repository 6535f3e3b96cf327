import { afterAll, beforeAll, expect, test } from "bun:test";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { chatOf, markStatus, sendText, type Http } from "./support";

let server: TestServer;
let http: Http;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  [alice, bob] = await Promise.all([createUser(server), createUser(server)]);
});
afterAll(() => server.stop());

const counts = async (u: TestUser, chatId: number) => {
  const r = await http.get(`/chats/${chatId}`, { token: u.token });
  expect(r.status).toBe(200);
  return [r.body.unread_count, r.body.unread_mentions_count];
};

test("unread_count and unread_mentions_count follow sends, reads, deletes and clears", async () => {
  const chat = await chatOf(server, "group", alice, [bob]);
  const m1 = await sendText(http, alice, chat);
  const m2 = await sendText(http, alice, chat, `hi @${bob.username}`);
  const m3 = await sendText(http, alice, chat);
  await sendText(http, bob, chat); // one's own messages are never unread
  expect(await counts(bob, chat)).toEqual([3, 1]);
  expect(await counts(alice, chat)).toEqual([1, 0]);

  await markStatus(http, bob, chat, m1.id, "message_delivered"); // delivery is not reading
  expect(await counts(bob, chat)).toEqual([3, 1]);
  await markStatus(http, bob, chat, m1.id, "message_read");
  expect(await counts(bob, chat)).toEqual([2, 1]);

  await http.delete(`/messages/${m2.id}?for_all=true`, { token: alice.token });
  expect(await counts(bob, chat)).toEqual([1, 0]);

  const m4 = await sendText(http, alice, chat, `again @${bob.username}`);
  expect(await counts(bob, chat)).toEqual([2, 1]);
  await http.delete(`/messages/${m4.id}?for_all=false`, { token: bob.token });
  expect(await counts(bob, chat)).toEqual([1, 0]);

  await sendText(http, alice, chat, `and @${bob.username}`);
  expect(await counts(bob, chat)).toEqual([2, 1]);
  expect((await http.post(`/chats/${chat}/clear`, { token: bob.token })).status).toBe(204);
  expect(await counts(bob, chat)).toEqual([0, 0]);

  // Reading an older message afterwards leaves the mark (and the counts) where they are.
  const m6 = await sendText(http, alice, chat);
  await markStatus(http, bob, chat, m6.id, "message_read");
  await markStatus(http, bob, chat, m3.id, "message_read");
  expect(await counts(bob, chat)).toEqual([0, 0]);
});
