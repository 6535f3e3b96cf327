/** Object storage that does not answer: a fast 503 {detail}, and nothing in the database. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { attachments, messages } from "../../src/db/schema";
import { eq } from "drizzle-orm";
import { insertChat, insertMessage } from "../helpers/fixtures";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import type { Http } from "./support";

let server: TestServer;
let http: Http;
let alice: TestUser;
let endpoint: string;

/** A port nothing listens on: bound once, then released. */
function closedPort(): number {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port;
  probe.stop(true);
  if (port === undefined) throw new Error("no port");
  return port;
}

beforeAll(async () => {
  endpoint = `http://127.0.0.1:${closedPort()}`;
  server = await startTestServer({
    env: { S3_ENDPOINT: endpoint, S3_BUCKET: "gone", S3_ACCESS_KEY_ID: "k", S3_SECRET_ACCESS_KEY: "s", S3_FORCE_PATH_STYLE: "true" },
  });
  http = client(server.url);
  alice = await createUser(server);
});
afterAll(() => server.stop());

test("upload-url: 503 {detail} within 5 seconds", async () => {
  const started = performance.now();
  const r = await http.post("/media/upload-url", { token: alice.token, body: { file_name: "a.jpg", file_type: "image/jpeg", file_size: 10 } });
  expect(performance.now() - started).toBeLessThan(5000);
  expect(r.status).toBe(503);
  expect(Object.keys(r.body)).toEqual(["detail"]);
  expect(r.text).not.toContain("ECONNREFUSED");
});

test("attachments: 503 {detail} within 5 seconds, no row and no waveform written", async () => {
  const chatId = await insertChat(server, { ownerId: alice.id });
  const messageId = await insertMessage(server, { chatId, senderId: alice.id, type: "voice" });
  const started = performance.now();
  const r = await http.post("/media/attachments", {
    token: alice.token,
    body: {
      message_id: messageId,
      file_url: `${endpoint}/gone/uploads/${alice.id}/abcdefghijklmnopqrstuv.ogg`,
      file_type: "audio/ogg",
      file_size: 10,
      waveform_points: [1, 2, 3],
    },
  });
  expect(performance.now() - started).toBeLessThan(5000);
  expect(r.status).toBe(503);
  expect(Object.keys(r.body)).toEqual(["detail"]);
  expect(await server.app.db.select().from(attachments).where(eq(attachments.messageId, messageId))).toHaveLength(0);
  const [message] = await server.app.db.select().from(messages).where(eq(messages.id, messageId));
  expect(message?.attachmentWaveform).toBeNull();
});
