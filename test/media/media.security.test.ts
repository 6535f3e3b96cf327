/**
 * Who may do what with media, and what input is refused: every procedure as anonymous,
 * stranger, member and sender, plus the reference's validation rules (MIME, size, waveform).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { attachments } from "../../src/db/schema";
import { insertChat, insertMessage } from "../helpers/fixtures";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { bytesOf, upload, type Http, type UploadTicket } from "./support";

const MAX_UPLOAD = 4096;

let server: TestServer;
let http: Http;
let alice: TestUser; // sender
let bob: TestUser; // member
let mallory: TestUser; // stranger
let chatId: number;
let aliceMessage: number;
let ticket: UploadTicket;
const bytes = bytesOf("a small jpeg");

beforeAll(async () => {
  server = await startTestServer({ env: { MAX_UPLOAD_SIZE_BYTES: String(MAX_UPLOAD) } });
  http = client(server.url);
  [alice, bob, mallory] = await Promise.all([createUser(server), createUser(server), createUser(server)]);
  chatId = await insertChat(server, { ownerId: alice.id, memberIds: [bob.id] });
  aliceMessage = await insertMessage(server, { chatId, senderId: alice.id, type: "image" });
  ticket = await upload(http, alice, "image/jpeg", bytes);
});
afterAll(() => server.stop());

const attachBody = (over: Record<string, unknown> = {}) => ({
  message_id: aliceMessage,
  file_url: ticket.file_url,
  file_type: "image/jpeg",
  file_size: bytes.byteLength,
  ...over,
});

describe("anonymous", () => {
  test("every media endpoint answers 401 with WWW-Authenticate", async () => {
    const calls = [
      http.post("/media/upload-url", { body: { file_name: "a.jpg", file_type: "image/jpeg", file_size: 10 } }),
      http.post("/media/attachments", { body: attachBody() }),
      http.get(`/media/chats/${chatId}/attachments`),
    ];
    for (const r of await Promise.all(calls)) {
      expect(r.status).toBe(401);
      expect(r.headers.get("www-authenticate")).toBe("Bearer");
      expect(typeof r.body.detail).toBe("string");
    }
  });
});

describe("upload-url validation", () => {
  test("a MIME type outside the whitelist: 422 naming file_type", async () => {
    for (const file_type of ["text/html", "image/svg+xml", "application/x-msdownload", ""]) {
      const r = await http.post("/media/upload-url", { token: alice.token, body: { file_name: "x", file_type, file_size: 10 } });
      expect(r.status).toBe(422);
      expect(r.body.detail).toStartWith("file_type:");
    }
  });
  test("every whitelisted type is accepted and keys carry a matching extension", async () => {
    const types = ["image/jpeg", "image/png", "image/webp", "video/mp4", "video/webm", "audio/mpeg", "audio/ogg", "audio/webm", "audio/wav", "application/pdf", "application/zip", "text/plain"];
    const exts = new Set<string>();
    for (const file_type of types) {
      const r = await http.post("/media/upload-url", { token: alice.token, body: { file_name: "f", file_type, file_size: 1 } });
      expect(r.status).toBe(200);
      expect(r.body.required_headers["Content-Type"]).toBe(file_type);
      exts.add(r.body.object_key.split(".").at(-1));
    }
    expect(exts.size).toBe(types.length);
  });
  test("a size over MAX_UPLOAD_SIZE_BYTES: 422; zero or fractional sizes too", async () => {
    const over = await http.post("/media/upload-url", { token: alice.token, body: { file_name: "x.jpg", file_type: "image/jpeg", file_size: MAX_UPLOAD + 1 } });
    expect(over.status).toBe(422);
    expect(over.body).toEqual({ detail: `file_size: must be at most ${MAX_UPLOAD} bytes` });
    const atLimit = await http.post("/media/upload-url", { token: alice.token, body: { file_name: "x.jpg", file_type: "image/jpeg", file_size: MAX_UPLOAD } });
    expect(atLimit.status).toBe(200);
    for (const file_size of [0, -1, 1.5]) {
      const r = await http.post("/media/upload-url", { token: alice.token, body: { file_name: "x.jpg", file_type: "image/jpeg", file_size } });
      expect(r.status).toBe(422);
      expect(r.body.detail).toStartWith("file_size:");
    }
  });
  test("a blank file name: 422", async () => {
    const r = await http.post("/media/upload-url", { token: alice.token, body: { file_name: "  ", file_type: "image/jpeg", file_size: 1 } });
    expect(r.status).toBe(422);
    expect(r.body.detail).toStartWith("file_name:");
  });
});

describe("attachments", () => {
  test("a member who is not the sender: 403, nothing written", async () => {
    const r = await http.post("/media/attachments", { token: bob.token, body: attachBody() });
    expect(r.status).toBe(403);
    expect(typeof r.body.detail).toBe("string");
    expect(await server.app.db.select().from(attachments).where(eq(attachments.messageId, aliceMessage))).toHaveLength(0);
  });
  test("a stranger: 404 exactly like a missing message", async () => {
    const stranger = await http.post("/media/attachments", { token: mallory.token, body: attachBody() });
    const missing = await http.post("/media/attachments", { token: alice.token, body: attachBody({ message_id: 999_999_999 }) });
    expect(stranger.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(stranger.body).toEqual(missing.body);
  });
  test("a file uploaded by someone else: 422", async () => {
    const bobs = await upload(http, bob, "image/jpeg", bytes);
    const r = await http.post("/media/attachments", { token: alice.token, body: attachBody({ file_url: bobs.file_url }) });
    expect(r.status).toBe(422);
    expect(r.body.detail).toStartWith("file_url:");
  });
  test("waveform: more than 256 points, values outside 0..255 or fractions: 422", async () => {
    for (const waveform_points of [Array.from({ length: 257 }, () => 1), [1, 256], [-1], [1.5], ["3"]]) {
      const r = await http.post("/media/attachments", { token: alice.token, body: attachBody({ waveform_points }) });
      expect(r.status).toBe(422);
      expect(r.body.detail).toStartWith("waveform_points");
    }
    expect(await server.app.db.select().from(attachments).where(eq(attachments.messageId, aliceMessage))).toHaveLength(0);
  });
  test("the sender with 256 points: 200", async () => {
    const waveform_points = Array.from({ length: 256 }, (_, i) => i);
    const r = await http.post("/media/attachments", { token: alice.token, body: attachBody({ waveform_points }) });
    expect(r.status).toBe(200);
    expect(r.body.waveform_points).toEqual(waveform_points);
  });
});

describe("attachments per message", () => {
  test("an eleventh attachment on one message: 422", async () => {
    const messageId = await insertMessage(server, { chatId, senderId: alice.id, type: "image" });
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      const b = bytesOf(`image ${i}`);
      const t = await upload(http, alice, "image/png", b);
      const r = await http.post("/media/attachments", { token: alice.token, body: { message_id: messageId, file_url: t.file_url, file_type: "image/png", file_size: b.byteLength } });
      statuses.push(r.status);
    }
    expect(statuses).toEqual([...Array(10).fill(200), 422]);
    expect(await server.app.db.select().from(attachments).where(eq(attachments.messageId, messageId))).toHaveLength(10);
  });
});

describe("chat attachments listing", () => {
  test("a stranger: 404 like an unknown chat", async () => {
    const stranger = await http.get(`/media/chats/${chatId}/attachments`, { token: mallory.token });
    const unknown = await http.get(`/media/chats/2000000000/attachments`, { token: alice.token });
    expect(stranger.status).toBe(404);
    expect(unknown.status).toBe(404);
    expect(stranger.body).toEqual(unknown.body);
  });
  test("members see the list", async () => {
    for (const user of [alice, bob]) {
      const r = await http.get(`/media/chats/${chatId}/attachments`, { token: user.token });
      expect(r.status).toBe(200);
      expect(r.body.map((a: { message_id: number }) => a.message_id)).toContain(aliceMessage);
    }
  });
  test("limit outside 1..200 or a bad before_id: 422", async () => {
    for (const q of ["limit=0", "limit=201", "limit=abc", "before_id=0", "before_id=-5"]) {
      const r = await http.get(`/media/chats/${chatId}/attachments?${q}`, { token: alice.token });
      expect(r.status).toBe(422);
    }
    const max = await http.get(`/media/chats/${chatId}/attachments?limit=200`, { token: alice.token });
    expect(max.status).toBe(200);
  });
  test("attachments of a message deleted for all are not listed", async () => {
    const messageId = await insertMessage(server, { chatId, senderId: bob.id, type: "file" });
    const t = await upload(http, bob, "application/zip", bytesOf("PK zip"));
    const r = await http.post("/media/attachments", { token: bob.token, body: { message_id: messageId, file_url: t.file_url, file_type: "application/zip", file_size: 6 } });
    expect(r.status).toBe(200);
    const { messages } = await import("../../src/db/schema");
    await server.app.db.update(messages).set({ deletedAt: new Date() }).where(eq(messages.id, messageId));
    const list = await http.get(`/media/chats/${chatId}/attachments`, { token: alice.token });
    expect(list.body.map((a: { id: number }) => a.id)).not.toContain(r.body.id);
  });
});
