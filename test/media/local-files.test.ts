/** The local driver's /files route: what a PUT must present, and how files are served. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { client } from "../helpers/http";
import { listenerUrl } from "../../src/server";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { bytesOf, putBytes, requestUpload, type Http } from "./support";

let server: TestServer;
let http: Http;
let alice: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  alice = await createUser(server);
});
afterAll(() => server.stop());

describe("local PUT", () => {
  test("upload URLs point at this server's /files", async () => {
    const ticket = await requestUpload(http, alice, "text/plain", bytesOf("hi"));
    expect(ticket.file_url).toBe(`${server.url}/files/${ticket.object_key}`);
    expect(ticket.upload_url).toStartWith(`${ticket.file_url}?`);
  });

  test("the object lands under DATA_DIR/uploads, whole, with no temp file left", async () => {
    const bytes = new Uint8Array(200_000).map((_, i) => i % 251);
    const ticket = await requestUpload(http, alice, "application/zip", bytes);
    expect((await putBytes(ticket, bytes)).status).toBe(200);
    const path = join(server.dataDir, ticket.object_key);
    expect(new Uint8Array(await Bun.file(path).arrayBuffer())).toEqual(bytes);
    const dir = join(server.dataDir, "uploads", String(alice.id));
    expect(readdirSync(dir).filter((f) => f.endsWith(".part"))).toEqual([]);
  });

  test("an expired URL: 403 {detail}", async () => {
    const key = `uploads/${alice.id}/expiredexpiredexpired.txt`;
    const put = await server.app.storage.presignPut(key, "text/plain", 3, -1);
    const r = await fetch(put.url, { method: "PUT", headers: put.headers, body: "abc" });
    expect(r.status).toBe(403);
    expect(await r.json()).toEqual({ detail: "Upload URL has expired" });
    expect(existsSync(join(server.dataDir, key))).toBe(false);
  });

  test("no signature, or a changed size or type in the query: 403", async () => {
    const bytes = bytesOf("hello");
    const ticket = await requestUpload(http, alice, "text/plain", bytes);
    const bare = await fetch(ticket.file_url, { method: "PUT", headers: ticket.required_headers, body: bytes });
    expect(bare.status).toBe(403);
    const bigger = new URL(ticket.upload_url);
    bigger.searchParams.set("size", "999999");
    expect((await fetch(bigger, { method: "PUT", headers: { "Content-Type": "text/plain" }, body: bytes })).status).toBe(403);
    const retyped = new URL(ticket.upload_url);
    retyped.searchParams.set("content_type", "text/html");
    expect((await fetch(retyped, { method: "PUT", headers: { "Content-Type": "text/html" }, body: bytes })).status).toBe(403);
  });

  test("fewer bytes than signed: 403; more: 413; both with {detail}", async () => {
    const ticket = await requestUpload(http, alice, "text/plain", bytesOf("12345"));
    const short = await fetch(ticket.upload_url, { method: "PUT", headers: { "Content-Type": "text/plain" }, body: "123" });
    expect(short.status).toBe(403);
    expect(typeof (await short.json()).detail).toBe("string");
    const long = await fetch(ticket.upload_url, { method: "PUT", headers: { "Content-Type": "text/plain" }, body: "1234567" });
    expect(long.status).toBe(413);
    expect(typeof (await long.json()).detail).toBe("string");
    // Neither was stored: the signed bytes still go in (the short body streamed to disk is dropped).
    expect((await fetch(ticket.upload_url, { method: "PUT", headers: { "Content-Type": "text/plain" }, body: "12345" })).status).toBe(200);
  });

  test("an uploader gone mid-body is logged as the client's doing, not a storage failure, and nothing is stored", async () => {
    const bytes = bytesOf("x".repeat(4000));
    const ticket = await requestUpload(http, alice, "text/plain", bytes);
    const before = server.logs.length;
    const url = new URL(ticket.upload_url);
    const socket = await Bun.connect({ hostname: "127.0.0.1", port: Number(url.port), socket: { data() {} } });
    socket.write(`PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 4000\r\n\r\n${"x".repeat(1000)}`);
    await Bun.sleep(100);
    socket.end();
    const lines = () => server.logs.slice(before).map((l) => JSON.parse(l) as { level: string; msg: string });
    for (let i = 0; i < 100 && !lines().some((l) => l.msg === "client went away"); i++) await Bun.sleep(20);
    expect(lines().filter((l) => l.msg === "client went away").map((l) => l.level)).toEqual(["info"]);
    expect(lines().filter((l) => l.level === "error")).toEqual([]);
    expect((await putBytes(ticket, bytes)).status).toBe(200);
  });

  test("a body streamed in many chunks is written as sent; the same bytes again 200, one byte changed 409", async () => {
    const size = 3 * 1024 * 1024 + 17;
    const bytes = new Uint8Array(new ArrayBuffer(size)).map((_, i) => (i * 31) % 251);
    const ticket = await requestUpload(http, alice, "application/zip", bytes, "big.zip");
    const streamed = (data: Uint8Array) =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (let at = 0; at < data.byteLength; at += 64 * 1024) controller.enqueue(data.slice(at, at + 64 * 1024));
          controller.close();
        },
      });
    const put = (data: Uint8Array) =>
      fetch(ticket.upload_url, { method: "PUT", headers: { "Content-Type": "application/zip", "Content-Length": String(data.byteLength) }, body: streamed(data), duplex: "half" } as RequestInit);
    const first = await put(bytes);
    expect(first.status).toBe(200);
    expect(first.headers.get("etag")).toBe(`"${new Bun.CryptoHasher("md5").update(bytes).digest("hex")}"`);
    expect((await put(bytes)).status).toBe(200);
    const changed = bytes.slice();
    changed[size - 1] = (changed[size - 1] ?? 0) ^ 1;
    expect((await put(changed)).status).toBe(409);
    const stored = await fetch(ticket.file_url);
    expect(new Uint8Array(await stored.arrayBuffer())).toEqual(bytes);
  });

  test("paths outside uploads/<user>/<name>.<ext>: 404, never a file read", async () => {
    for (const path of ["/files/../jwt-secret", "/files/uploads/1/..%2F..%2Fjwt-secret", "/files/upload-signing-key", "/files/uploads/1/short.txt", "/files/uploads/x/aaaaaaaaaaaaaaaaaaaa.txt"]) {
      const r = await fetch(`${server.url}${path}`);
      expect(r.status).toBe(404);
    }
  });

  test("an object is written once: other bytes with the same URL 409 and the file keeps its first bytes; the same bytes again 200", async () => {
    const first = bytesOf("I owe Bob 100 EUR.");
    const ticket = await requestUpload(http, alice, "text/plain", first);
    expect((await putBytes(ticket, first)).status).toBe(200);
    const swapped = await putBytes(ticket, bytesOf("I owe Bob 000 EUR."));
    expect(swapped.status).toBe(409);
    expect(typeof (await swapped.json()).detail).toBe("string");
    expect(await (await fetch(ticket.file_url)).text()).toBe("I owe Bob 100 EUR.");
    // A retried PUT whose answer was lost is not an error.
    expect((await putBytes(ticket, first)).status).toBe(200);
    const dir = join(server.dataDir, "uploads", String(alice.id));
    expect(readdirSync(dir).filter((f) => f.endsWith(".part"))).toEqual([]);
  });

  test("other methods: 405 with Allow", async () => {
    const ticket = await requestUpload(http, alice, "text/plain", bytesOf("x"));
    const r = await fetch(ticket.file_url, { method: "DELETE" });
    expect(r.status).toBe(405);
    expect(r.headers.get("allow")).toBe("GET, HEAD, PUT");
  });
});

describe("local GET", () => {
  test("serves the stored type with nosniff; a missing file is 404 {detail}", async () => {
    const bytes = bytesOf("just text");
    const ticket = await requestUpload(http, alice, "text/plain", bytes);
    expect((await fetch(ticket.file_url)).status).toBe(404);
    expect((await putBytes(ticket, bytes)).status).toBe(200);
    const got = await fetch(ticket.file_url);
    expect(got.status).toBe(200);
    expect(got.headers.get("content-type")).toStartWith("text/plain");
    expect(got.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await got.text()).toBe("just text");
    const head = await fetch(ticket.file_url, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(bytes.byteLength));
    // Clients may resume a download with Range; GET and HEAD say so.
    expect(got.headers.get("accept-ranges")).toBe("bytes");
    expect(head.headers.get("accept-ranges")).toBe("bytes");
  });
});

describe("local GET caching", () => {
  test("downloads carry ETag and Last-Modified; a conditional GET of the same object answers 304 without a body", async () => {
    const bytes = bytesOf("cache me");
    const ticket = await requestUpload(http, alice, "text/plain", bytes);
    expect((await putBytes(ticket, bytes)).status).toBe(200);
    const got = await fetch(ticket.file_url);
    const etag = got.headers.get("etag");
    const lastModified = got.headers.get("last-modified");
    expect(etag).toMatch(/^"[0-9a-z]+-[0-9a-z]+"$/);
    expect(lastModified).not.toBeNull();
    // Objects are written once and their keys are random: clients may keep them for good.
    expect(got.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    await got.text();

    const same = await fetch(ticket.file_url, { headers: { "if-none-match": etag as string } });
    expect(same.status).toBe(304);
    expect(await same.text()).toBe("");
    expect(same.headers.get("etag")).toBe(etag);
    expect((await fetch(ticket.file_url, { headers: { "if-none-match": `W/${etag}, "other"` } })).status).toBe(304);
    expect((await fetch(ticket.file_url, { headers: { "if-modified-since": lastModified as string } })).status).toBe(304);

    const other = await fetch(ticket.file_url, { headers: { "if-none-match": '"other"' } });
    expect(other.status).toBe(200);
    expect(await other.text()).toBe("cache me");
    // If-None-Match decides when present, whatever If-Modified-Since says.
    expect((await fetch(ticket.file_url, { headers: { "if-none-match": '"other"', "if-modified-since": lastModified as string } })).status).toBe(200);
    const older = new Date(Date.parse(lastModified as string) - 60_000).toUTCString();
    expect((await fetch(ticket.file_url, { headers: { "if-modified-since": older } })).status).toBe(200);
  });
});

describe("a server listening on every address (HOST=0.0.0.0)", () => {
  test("file URLs name the loopback address, not 0.0.0.0, and a warning says how to name the public one", async () => {
    const wide = await startTestServer({ hostname: "0.0.0.0" });
    try {
      const user = await createUser(wide);
      const bytes = bytesOf("reachable");
      const ticket = await requestUpload(client(wide.url), user, "text/plain", bytes);
      expect(ticket.upload_url).toStartWith("http://127.0.0.1:");
      expect(ticket.file_url).toStartWith("http://127.0.0.1:");
      expect((await putBytes(ticket, bytes)).status).toBe(200);
      expect(await (await fetch(ticket.file_url)).text()).toBe("reachable");
      expect(wide.logs.some((l) => l.includes("set S3_PUBLIC_URL"))).toBe(true);
    } finally {
      await wide.stop();
    }
  });

  test("listener URLs: wildcards become loopback, IPv6 literals get brackets", () => {
    expect(listenerUrl("0.0.0.0", 3000)).toBe("http://127.0.0.1:3000");
    expect(listenerUrl("::", 3000)).toBe("http://[::1]:3000");
    expect(listenerUrl("::1", 3000)).toBe("http://[::1]:3000");
    expect(listenerUrl("127.0.0.1", 3000)).toBe("http://127.0.0.1:3000");
  });

  test("a server on 127.0.0.1 logs no such warning", () => {
    expect(server.logs.some((l) => l.includes("set S3_PUBLIC_URL"))).toBe(false);
  });
});
