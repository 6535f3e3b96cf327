/** createParleyClient against a real server: typed calls, snake_case parity with REST, token refresh. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createParleyClient, isUnauthorized, TRPCClientError } from "../../client-sdk/src/index";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";

let server: TestServer;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  [alice, bob] = await Promise.all([createUser(server), createUser(server)]);
});
afterAll(() => server.stop());

describe("createParleyClient", () => {
  test("procedures under the reference's names; the tRPC input is the REST body", async () => {
    const api = createParleyClient({ url: server.url, token: alice.token });
    const body = { type: "private" as const, member_ids: [bob.id] };
    const chat = await api.chats.create.mutate(body);
    const rest = await client(server.url).post("/chats", { token: alice.token, body });
    expect(rest.body.id).toBe(chat.id);

    const message = await api.messages.send.mutate({ chat_id: chat.id, text: "hello over tRPC", client_message_id: "sdk-1" });
    expect(message.text).toBe("hello over tRPC");
    const again = await client(server.url).post("/messages", { token: alice.token, body: { chat_id: chat.id, text: "hello over tRPC", client_message_id: "sdk-1" } });
    expect(again.body.id).toBe(message.id);

    const history = await api.messages.history.query({ chat_id: chat.id });
    expect(history.map((m) => m.id)).toContain(message.id);
    const list = await api.chats.list.query({});
    expect(list.map((c) => c.id)).toContain(chat.id);
  });

  test("a 401 without refresh reaches the caller", async () => {
    const api = createParleyClient({ url: server.url, token: "bad" });
    const err = await api.auth.me.query({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TRPCClientError);
    expect(isUnauthorized(err)).toBe(true);
  });

  test("a body over MAX_BODY_BYTES reaches the caller as a TRPCClientError with code PAYLOAD_TOO_LARGE", async () => {
    const api = createParleyClient({ url: server.url, token: alice.token });
    const err = await api.messages.send.mutate({ chat_id: 1, text: "x".repeat(server.app.config.MAX_BODY_BYTES + 1) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TRPCClientError);
    expect((err as TRPCClientError<never>).data).toMatchObject({ code: "PAYLOAD_TOO_LARGE", httpStatus: 413 });
  });

  test("refreshes once on 401, retries, and keeps the new token", async () => {
    let refreshes = 0;
    const api = createParleyClient({
      url: server.url,
      token: "expired",
      refresh: async () => {
        refreshes += 1;
        return alice.token;
      },
    });
    // Three calls in one batch, all 401: one refresh, three retries.
    const [a, b, c] = await Promise.all([api.auth.me.query({}), api.users.me.query({}), api.chats.list.query({})]);
    expect(a.id).toBe(alice.id);
    expect(b.id).toBe(alice.id);
    expect(Array.isArray(c)).toBe(true);
    expect(refreshes).toBe(1);
    await api.auth.me.query({});
    expect(refreshes).toBe(1);
  });

  test("a 401 to a call that started before a refresh finished retries with the new token, without a second refresh", async () => {
    let refreshes = 0;
    let current = "expired";
    // users.me answers 300 ms late, so its 401 arrives after auth.me's refresh has finished.
    const slowFetch: typeof fetch = Object.assign(
      async (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
        const res = await fetch(input, init);
        if (String(input instanceof Request ? input.url : input).includes("users.me")) await Bun.sleep(300);
        return res;
      },
      { preconnect: fetch.preconnect },
    );
    const api = createParleyClient({
      url: server.url,
      token: () => current,
      fetch: slowFetch,
      refresh: async () => {
        refreshes += 1;
        current = alice.token;
        return current;
      },
    });
    // Two batches: the first answers at once (401, refresh, retry), the second's 401 arrives late.
    const first = api.auth.me.query({});
    await Bun.sleep(1);
    const second = api.users.me.query({});
    expect([(await first).id, (await second).id]).toEqual([alice.id, alice.id]);
    expect(refreshes).toBe(1);
  });

  test("a wrong password is not a reason to refresh", async () => {
    let refreshes = 0;
    const api = createParleyClient({ url: server.url, token: alice.token, refresh: async () => String(++refreshes) });
    const err = await api.auth.login.mutate({ email: alice.email, password: "not the password" }).catch((e: unknown) => e);
    expect(isUnauthorized(err)).toBe(true);
    expect(refreshes).toBe(0);
  });

  test("a batch of long queries is split below the server's header limit instead of failing unreadably", async () => {
    const api = createParleyClient({ url: server.url, token: alice.token });
    const long = "привет".repeat(42);
    const results = await Promise.all(Array.from({ length: 12 }, () => api.messages.search.query({ query: long })));
    expect(results.map((r) => r.length)).toEqual(Array.from({ length: 12 }, () => 0));
  });

  test("a refresh that does not help fails after one retry", async () => {
    let refreshes = 0;
    const api = createParleyClient({
      url: server.url,
      token: () => "still-bad",
      refresh: async () => {
        refreshes += 1;
        return "also-bad";
      },
    });
    const err = await api.auth.me.query({}).catch((e: unknown) => e);
    expect(isUnauthorized(err)).toBe(true);
    expect(refreshes).toBe(1);

    const giveUp = createParleyClient({ url: server.url, token: "bad", refresh: async () => null });
    expect(isUnauthorized(await giveUp.auth.me.query({}).catch((e: unknown) => e))).toBe(true);
  });

  test("refresh through auth.refresh with the real refresh token", async () => {
    const user = await createUser(server);
    let refreshToken = user.refreshToken;
    const anon = createParleyClient({ url: server.url });
    const api = createParleyClient({
      url: server.url,
      token: "not-a-jwt",
      refresh: async () => {
        const pair = await anon.auth.refresh.mutate({ refresh_token: refreshToken });
        refreshToken = pair.refresh_token;
        return pair.access_token;
      },
    });
    expect((await api.auth.me.query({})).id).toBe(user.id);
  });
});
