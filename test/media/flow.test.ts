/**
 * The whole client flow (upload-url, PUT with the required headers, attach, list) against both
 * storage drivers: the embedded local disk and a real S3-protocol server started here.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import { attachments, chatEvents, messages } from "../../src/db/schema";
import { insertChat, insertMessage } from "../helpers/fixtures";
import { client } from "../helpers/http";
import { startTestS3, type TestS3 } from "../helpers/s3-server";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { bytesOf, putBytes, requestUpload, upload, type Http } from "./support";

interface Driver {
  name: "local" | "s3";
  /** What a PUT of more bytes than signed answers: ours says 413, S3 fails the signature. */
  oversizePutStatus: number;
  env(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

let s3: TestS3 | undefined;
const drivers: Driver[] = [
  { name: "local", oversizePutStatus: 413, env: async () => ({}), stop: async () => {} },
  {
    name: "s3",
    oversizePutStatus: 403,
    env: async () => {
      s3 = await startTestS3();
      return s3.env;
    },
    stop: async () => s3?.stop(),
  },
];

describe.each(drivers)("media flow on $name storage", (driver) => {
  let server: TestServer;
  let http: Http;
  let alice: TestUser;
  let bob: TestUser;
  let chatId: number;

  beforeAll(async () => {
    server = await startTestServer({ env: await driver.env() });
    http = client(server.url);
    alice = await createUser(server);
    bob = await createUser(server);
    chatId = await insertChat(server, { ownerId: alice.id, memberIds: [bob.id] });
  });
  afterAll(async () => {
    await server.stop();
    await driver.stop();
  });

  test("storage driver is the expected one", () => {
    expect(server.app.storage.kind).toBe(driver.name);
  });

  test("upload, attach with a waveform, list: the message's waveform follows", async () => {
    const messageId = await insertMessage(server, { chatId, senderId: alice.id, type: "voice" });
    const bytes = bytesOf("OggS fake voice note bytes");
    const ticket = await requestUpload(http, alice, "audio/ogg", bytes, "note.ogg");
    expect(ticket.object_key).toMatch(new RegExp(`^uploads/${alice.id}/[A-Za-z0-9_-]+\\.ogg$`));
    expect(ticket.file_url).toBe(`${server.app.storage.publicBase}/${ticket.object_key}`);
    expect(ticket.expires_in).toBe(900);
    expect(ticket.required_headers["Content-Type"]).toBe("audio/ogg");

    const put = await putBytes(ticket, bytes);
    expect(put.status).toBe(200);

    const got = await fetch(ticket.file_url);
    expect(got.status).toBe(200);
    expect(got.headers.get("content-type")).toStartWith("audio/ogg");
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(bytes);

    const waveform = [0, 4, 7, 10, 9, 6, 255];
    const attached = await http.post("/media/attachments", {
      token: alice.token,
      body: { message_id: messageId, file_url: ticket.file_url, file_type: "audio/ogg", file_size: bytes.byteLength, waveform_points: waveform },
    });
    expect(attached.status).toBe(200);
    expect(attached.body).toEqual({
      id: expect.any(Number),
      message_id: messageId,
      file_url: ticket.file_url,
      file_type: "audio/ogg",
      file_size: bytes.byteLength,
      waveform_points: waveform,
    });

    const [message] = await server.app.db.select().from(messages).where(and(eq(messages.chatId, chatId), eq(messages.id, messageId)));
    expect(message?.attachmentWaveform).toEqual(waveform);
    const events = await server.app.db.select().from(chatEvents).where(eq(chatEvents.chatId, chatId));
    const updated = events.filter((e) => e.type === "message_updated").map((e) => e.data as { message: { id: number; attachment_waveform: number[] } });
    expect(updated.at(-1)?.message).toMatchObject({ id: messageId, attachment_waveform: waveform });

    const listed = await http.get(`/media/chats/${chatId}/attachments`, { token: bob.token });
    expect(listed.status).toBe(200);
    expect(listed.body[0]).toEqual({
      id: attached.body.id,
      message_id: messageId,
      sender_id: alice.id,
      message_type: "voice",
      message_created_at: message?.createdAt.toISOString(),
      file_url: ticket.file_url,
      file_type: "audio/ogg",
      file_size: bytes.byteLength,
    });
  });

  test("a forwarded message carries its attachments into the target chat (the same stored object)", async () => {
    const messageId = await insertMessage(server, { chatId, senderId: alice.id, type: "file" });
    const bytes = bytesOf("%PDF forwarded document");
    const ticket = await upload(http, alice, "application/pdf", bytes);
    const attached = await http.post("/media/attachments", {
      token: alice.token,
      body: { message_id: messageId, file_url: ticket.file_url, file_type: "application/pdf", file_size: bytes.byteLength },
    });
    expect(attached.status).toBe(200);
    const target = await insertChat(server, { ownerId: bob.id, memberIds: [] });
    const forwarded = await http.post(`/messages/${messageId}/forward`, { token: bob.token, body: { target_chat_id: target } });
    expect(forwarded.status).toBe(201);
    expect(forwarded.body).toMatchObject({ type: "file", forwarded_from_message_id: messageId, sender_id: bob.id });
    const listed = await http.get(`/media/chats/${target}/attachments`, { token: bob.token });
    expect(listed.body).toEqual([
      expect.objectContaining({ message_id: forwarded.body.id, sender_id: bob.id, message_type: "file", file_url: ticket.file_url, file_type: "application/pdf", file_size: bytes.byteLength }),
    ]);
    expect(listed.body[0].id).not.toBe(attached.body.id);
    expect((await fetch(listed.body[0].file_url)).status).toBe(200);
    // The source chat still lists its own attachment once.
    const source = await http.get(`/media/chats/${chatId}/attachments?limit=200`, { token: alice.token });
    expect(source.body.filter((a: { file_url: string }) => a.file_url === ticket.file_url)).toHaveLength(1);
  });

  test("listing is newest first and before_id pages through every attachment once", async () => {
    const messageId = await insertMessage(server, { chatId, senderId: bob.id, type: "image" });
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const bytes = bytesOf(`png number ${i}`);
      const ticket = await upload(http, bob, "image/png", bytes);
      const r = await http.post("/media/attachments", {
        token: bob.token,
        body: { message_id: messageId, file_url: ticket.file_url, file_type: "image/png", file_size: bytes.byteLength },
      });
      expect(r.status).toBe(200);
      expect(r.body.waveform_points).toBeNull();
      ids.push(r.body.id);
    }
    const all = await http.get(`/media/chats/${chatId}/attachments?limit=200`, { token: alice.token });
    const allIds: number[] = all.body.map((a: { id: number }) => a.id);
    expect(allIds).toEqual([...allIds].sort((a, b) => b - a));
    expect(allIds.slice(0, 3)).toEqual([...ids].reverse());

    const seen: number[] = [];
    let before: number | undefined;
    for (;;) {
      const page = await http.get(`/media/chats/${chatId}/attachments?limit=2${before ? `&before_id=${before}` : ""}`, { token: alice.token });
      expect(page.status).toBe(200);
      if (page.body.length === 0) break;
      seen.push(...page.body.map((a: { id: number }) => a.id));
      before = page.body.at(-1).id;
    }
    expect(seen).toEqual(allIds);
  });

  test("attaching the same object twice answers the first attachment", async () => {
    const messageId = await insertMessage(server, { chatId, senderId: alice.id, type: "file" });
    const bytes = bytesOf("%PDF-1.4 tiny");
    const ticket = await upload(http, alice, "application/pdf", bytes);
    const body = { message_id: messageId, file_url: ticket.file_url, file_type: "application/pdf", file_size: bytes.byteLength };
    const first = await http.post("/media/attachments", { token: alice.token, body });
    const second = await http.post("/media/attachments", { token: alice.token, body });
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    const rows = await server.app.db.select().from(attachments).where(and(eq(attachments.chatId, chatId), eq(attachments.messageId, messageId)));
    expect(rows).toHaveLength(1);
  });

  test("the signed URL pins the content type: another type is refused", async () => {
    const bytes = bytesOf("plain text");
    const ticket = await requestUpload(http, alice, "text/plain", bytes);
    const put = await putBytes(ticket, bytes, { ...ticket.required_headers, "Content-Type": "text/html" });
    expect(put.status).toBe(403);
    const missing = await http.post("/media/attachments", {
      token: alice.token,
      body: { message_id: await insertMessage(server, { chatId, senderId: alice.id }), file_url: ticket.file_url, file_type: "text/plain", file_size: bytes.byteLength },
    });
    expect(missing.status).toBe(422);
  });

  test("the signed URL pins the size: more bytes than signed are refused", async () => {
    const ticket = await requestUpload(http, alice, "text/plain", bytesOf("short"));
    const bigger = bytesOf("short but then much longer than signed");
    const put = await fetch(ticket.upload_url, {
      method: "PUT",
      headers: { "Content-Type": "text/plain", "Content-Length": String(bigger.byteLength) },
      body: bigger,
    });
    expect(put.status).toBe(driver.oversizePutStatus);
  });

  test("an uploaded object keeps its bytes: a second PUT of other bytes is refused (local 409, S3 412)", async () => {
    const first = bytesOf("I owe Bob 100 EUR.");
    const ticket = await upload(http, alice, "text/plain", first);
    const swap = await putBytes(ticket, bytesOf("I owe Bob 000 EUR."));
    expect(swap.status).toBe(driver.name === "local" ? 409 : 412);
    expect(await (await fetch(ticket.file_url)).text()).toBe("I owe Bob 100 EUR.");
    if (driver.name === "s3") {
      // The condition is signed: a PUT that leaves it out fails the signature.
      expect(ticket.required_headers["If-None-Match"]).toBe("*");
      const { "If-None-Match": _, ...unconditional } = ticket.required_headers;
      expect((await putBytes(ticket, bytesOf("I owe Bob 000 EUR."), unconditional)).status).toBe(403);
      expect(await (await fetch(ticket.file_url)).text()).toBe("I owe Bob 100 EUR.");
    }
  });

  test("a tampered upload URL is refused", async () => {
    const bytes = bytesOf("abc");
    const ticket = await requestUpload(http, alice, "text/plain", bytes);
    const [prefix, owner, name] = ticket.object_key.split("/");
    const forged = `${prefix}/${owner}/${name?.startsWith("A") ? "B" : "A"}${name?.slice(1)}`;
    const other = ticket.upload_url.replace(ticket.object_key, forged);
    expect(other).not.toBe(ticket.upload_url);
    const put = await fetch(other, { method: "PUT", headers: ticket.required_headers, body: bytes });
    expect(put.status).toBe(403);
  });

  test("a file_url from another bucket or host is refused", async () => {
    const messageId = await insertMessage(server, { chatId, senderId: alice.id, type: "image" });
    const bytes = bytesOf("jpeg bytes");
    const ticket = await upload(http, alice, "image/jpeg", bytes);
    const base = server.app.storage.publicBase;
    const elsewhere = [
      ticket.file_url.replace(base, `${new URL(base).origin}/another-bucket`),
      ticket.file_url.replace(new URL(base).host, "files.elsewhere.example"),
      `${base}/uploads/${alice.id}/../${ticket.object_key}`,
      `${ticket.file_url}?x=1`,
    ];
    for (const file_url of elsewhere) {
      const r = await http.post("/media/attachments", {
        token: alice.token,
        body: { message_id: messageId, file_url, file_type: "image/jpeg", file_size: bytes.byteLength },
      });
      expect(r.status).toBe(422);
      expect(r.body.detail).toStartWith("file_url:");
    }
  });

  test("an object that was never uploaded is refused, and nothing is written", async () => {
    const messageId = await insertMessage(server, { chatId, senderId: alice.id, type: "image" });
    const ticket = await requestUpload(http, alice, "image/webp", bytesOf("never sent"));
    const r = await http.post("/media/attachments", {
      token: alice.token,
      body: { message_id: messageId, file_url: ticket.file_url, file_type: "image/webp", file_size: 10, waveform_points: [1, 2] },
    });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ detail: "file_url: no file has been uploaded there" });
    const rows = await server.app.db.select().from(attachments).where(and(eq(attachments.chatId, chatId), eq(attachments.messageId, messageId)));
    expect(rows).toHaveLength(0);
    const [message] = await server.app.db.select().from(messages).where(and(eq(messages.chatId, chatId), eq(messages.id, messageId)));
    expect(message?.attachmentWaveform).toBeNull();
  });

  test("size or type other than the uploaded object's is refused", async () => {
    const messageId = await insertMessage(server, { chatId, senderId: alice.id, type: "image" });
    const bytes = bytesOf("png png png");
    const ticket = await upload(http, alice, "image/png", bytes);
    const wrongSize = await http.post("/media/attachments", {
      token: alice.token,
      body: { message_id: messageId, file_url: ticket.file_url, file_type: "image/png", file_size: bytes.byteLength + 1 },
    });
    expect(wrongSize.status).toBe(422);
    expect(wrongSize.body.detail).toStartWith("file_size:");
    const wrongType = await http.post("/media/attachments", {
      token: alice.token,
      body: { message_id: messageId, file_url: ticket.file_url, file_type: "image/jpeg", file_size: bytes.byteLength },
    });
    expect(wrongType.status).toBe(422);
    expect(wrongType.body.detail).toStartWith("file_type:");
  });
});
