/**
 * What a private chat shows of the other side (display_title, counterpart_*) changes when that user
 * renames, changes avatar or presence privacy, or blocks, unblocks, adds or removes the viewer as a
 * contact: the viewer's socket hears a chat_updated with the chat as they see it now. Before, a
 * client that followed the socket kept a stale name, or showed a user online for good after they
 * hid their presence.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { WsClient, type Frame } from "./ws-client";

let server: TestServer;
let http: ReturnType<typeof client>;
let alice: TestUser;
let bob: TestUser;
let chatId: number;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  [alice, bob] = await Promise.all([createUser(server), createUser(server)]);
  chatId = (await http.post("/chats", { token: alice.token, body: { type: "private", member_ids: [bob.id] } })).body.id;
});
afterAll(() => server.stop());

type ChatView = { id: number; display_title: string; counterpart_avatar_url: string | null; counterpart_is_online: boolean | null; counterpart_username: string };

test("bob's socket hears each change of alice that shows in their private chat, and nothing for changes that do not", async () => {
  const b = await WsClient.connect(server.url, bob.token);
  const a = await WsClient.connect(server.url, alice.token);
  const updates = () => b.frames.filter((f) => f.type === "chat_updated" && (f.data.chat as ChatView | undefined)?.id === chatId);
  const nextView = async (change: () => Promise<unknown>): Promise<ChatView> => {
    const from = b.frames.length;
    await change();
    const f: Frame = await b.waitFor((x) => x.type === "chat_updated" && (x.data.chat as ChatView | undefined)?.id === chatId, 5000, from);
    return f.data.chat as ChatView;
  };
  const put = (body: Record<string, unknown>) => http.put("/users/profile", { token: alice.token, body }).then((r) => expect(r.status).toBe(200));

  expect((await nextView(() => put({ name: "Alice Renamed" }))).display_title).toBe("Alice Renamed");
  expect((await nextView(() => put({ avatar_url: "https://example.com/a.png" }))).counterpart_avatar_url).toBe("https://example.com/a.png");
  expect((await nextView(() => put({ privacy_last_seen: "nobody" }))).counterpart_is_online).toBeNull();
  expect((await nextView(() => put({ privacy_last_seen: "everyone" }))).counterpart_is_online).toBe(true);

  // A block hides avatar and presence from bob; unblocking shows them again.
  const blocked = await nextView(() => http.post(`/users/${bob.id}/block`, { token: alice.token }));
  expect([blocked.counterpart_avatar_url, blocked.counterpart_is_online]).toEqual([null, null]);
  const unblocked = await nextView(() => http.delete(`/users/${bob.id}/block`, { token: alice.token }));
  expect([unblocked.counterpart_avatar_url, unblocked.counterpart_is_online]).toEqual(["https://example.com/a.png", true]);

  // With presence for contacts only, adding bob as a contact shows it to him.
  expect((await nextView(() => put({ privacy_last_seen: "contacts" }))).counterpart_is_online).toBeNull();
  expect((await nextView(() => http.post(`/users/${bob.id}/contacts`, { token: alice.token }))).counterpart_is_online).toBe(true);

  // No frame for what bob's view does not show, nor for a change that changes nothing.
  const before = updates().length;
  await put({ bio: "only a bio" });
  await put({ privacy_last_seen: "contacts" });
  expect((await http.post(`/users/${bob.id}/contacts`, { token: alice.token })).status).toBeLessThan(300);
  // A later change that does show proves the frames above would have arrived by now.
  await nextView(() => put({ name: "Alice Again" }));
  expect(updates().length).toBe(before + 1);
  await Promise.all([a.close(), b.close()]);
});
