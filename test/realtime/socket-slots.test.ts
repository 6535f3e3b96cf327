/**
 * The gateway keeps per-socket state in reused slots (socket-table.ts): sockets that close before
 * or while they go live must leave nothing behind, and whoever takes their slot afterwards hears
 * only their own user's frames, once.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sendText } from "../chats/helpers";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { WsClient } from "./ws-client";

let server: TestServer;
let http: ReturnType<typeof client>;
let alice: TestUser;
let bob: TestUser;
let stranger: TestUser;
let group: number;
let strangersChat: number;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  [alice, bob, stranger] = await Promise.all([createUser(server), createUser(server), createUser(server)]);
  const g = await http.post("/chats", { token: alice.token, body: { type: "group", title: "slots", member_ids: [bob.id] } });
  group = g.body.id;
  const s = await http.post("/chats", { token: stranger.token, body: { type: "group", title: "stranger's", member_ids: [] } });
  strangersChat = s.body.id;
}, 180_000);

afterAll(async () => {
  await server.stop();
});

test("sockets closed before going live free their slots; the sockets after them hear their own user's frames once", async () => {
  const broker = server.app.broker;
  const presenceSteps = broker.presenceSteps.bind(broker);
  let slow = false;
  // While `slow`, presence leases take a while: the doomed sockets' goLive is still waiting for
  // theirs when they close and the next sockets take their slots.
  broker.presenceSteps = async (steps, ttl) => {
    if (slow) await Bun.sleep(300);
    return presenceSteps(steps, ttl);
  };
  try {
    for (let round = 0; round < 3; round++) {
      slow = true;
      const doomed = await Promise.all(Array.from({ length: 10 }, () => WsClient.connect(server.url, stranger.token, { awaitReady: false })));
      await Promise.all(doomed.map((c) => c.close()));
      slow = false;
      const [b, s] = await Promise.all([WsClient.connect(server.url, bob.token), WsClient.connect(server.url, stranger.token)]);
      const forBob = await sendText(http, alice, group, `for bob ${round}`);
      const forStranger = await sendText(http, stranger, strangersChat, `for stranger ${round}`);
      await b.waitFor((f) => f.type === "message_created" && f.data.message.id === forBob);
      await s.waitFor((f) => f.type === "message_created" && f.data.message.id === forStranger);
      // One more event each, so anything misrouted or duplicated would have arrived by now.
      const last = await sendText(http, alice, group, `last ${round}`);
      await b.waitFor((f) => f.type === "message_created" && f.data.message.id === last);
      const created = (c: WsClient) => c.durable().filter((f) => f.type === "message_created").map((f) => f.data.message.id as number);
      expect(created(b)).toEqual([forBob, last]);
      expect(created(s)).toEqual([forStranger]);
      await Promise.all([b.close(), s.close()]);
    }
  } finally {
    broker.presenceSteps = presenceSteps;
  }
});
