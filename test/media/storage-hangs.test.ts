/** Object storage that accepts connections but never answers: 503 before 5 seconds, not a hang. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { TCPSocketListener } from "bun";
import { eq } from "drizzle-orm";
import { attachments } from "../../src/db/schema";
import { insertChat, insertMessage } from "../helpers/fixtures";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import type { Http } from "./support";

let silent: TCPSocketListener;
let server: TestServer;
let http: Http;
let alice: TestUser;
let endpoint: string;

beforeAll(async () => {
  silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  endpoint = `http://127.0.0.1:${silent.port}`;
  server = await startTestServer({
    env: { S3_ENDPOINT: endpoint, S3_BUCKET: "mute", S3_ACCESS_KEY_ID: "k", S3_SECRET_ACCESS_KEY: "s", S3_FORCE_PATH_STYLE: "true" },
  });
  http = client(server.url);
  alice = await createUser(server);
});
afterAll(async () => {
  await server.stop();
  silent.stop(true);
});

test("upload-url and attachments both answer 503 within 5 seconds", async () => {
  const chatId = await insertChat(server, { ownerId: alice.id });
  const messageId = await insertMessage(server, { chatId, senderId: alice.id, type: "image" });
  const started = performance.now();
  const [uploadUrl, attach] = await Promise.all([
    http.post("/media/upload-url", { token: alice.token, body: { file_name: "a.png", file_type: "image/png", file_size: 5 } }),
    http.post("/media/attachments", {
      token: alice.token,
      body: { message_id: messageId, file_url: `${endpoint}/mute/uploads/${alice.id}/abcdefghijklmnopqrstuv.png`, file_type: "image/png", file_size: 5 },
    }),
  ]);
  expect(performance.now() - started).toBeLessThan(5000);
  expect(uploadUrl.status).toBe(503);
  expect(attach.status).toBe(503);
  expect(Object.keys(attach.body)).toEqual(["detail"]);
  expect(await server.app.db.select().from(attachments).where(eq(attachments.messageId, messageId))).toHaveLength(0);
});
