import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { api, client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";

let server: TestServer;
let http: ReturnType<typeof client>;
let alice: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  alice = await createUser(server);
});
afterAll(() => server.stop());

describe("health", () => {
  test("/health and /health/live answer ok", async () => {
    for (const path of ["/health", "/health/live"]) {
      const r = await http.get(path);
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ status: "ok" });
    }
  });
  test("/health/ready answers ready with db and redis ok", async () => {
    const r = await http.get("/health/ready");
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: "ready", db: "ok", redis: "ok" });
  });
});

describe("health methods", () => {
  test("another method than GET on a health path: 405 {detail} with Allow: GET", async () => {
    for (const path of ["/health", "/health/live", "/health/ready"]) {
      for (const method of ["POST", "PUT", "DELETE"]) {
        const r = await api(server.url, method, path);
        expect([method, path, r.status, r.headers.get("allow")]).toEqual([method, path, 405, "GET"]);
        expect(r.body).toEqual({ detail: "Method not allowed" });
      }
    }
    expect((await fetch(`${server.url}/health`, { method: "HEAD" })).status).toBe(200);
  });
});

describe("tRPC queries without an input", () => {
  test("procedures whose fields all have defaults answer a call that leaves the input out, like REST", async () => {
    for (const path of ["users.me", "auth.me", "chats.list", "chats.discover", "notifications.list", "chats.saved"]) {
      const r = await fetch(`${server.url}/trpc/${path}`, { headers: { authorization: `Bearer ${alice.token}` } });
      expect([path, r.status]).toEqual([path, 200]);
    }
    const me = (await (await fetch(`${server.url}/trpc/users.me`, { headers: { authorization: `Bearer ${alice.token}` } })).json()) as {
      result: { data: { id: number } };
    };
    expect(me.result.data.id).toBe(alice.id);
    // REST still coerces the query string of those inputs (a limit is a number, a bad one 422).
    expect((await http.get("/chats?limit=1", { token: alice.token })).status).toBe(200);
    expect((await http.get("/chats?limit=abc", { token: alice.token })).status).toBe(422);
    expect((await http.get("/notifications?limit=0", { token: alice.token })).status).toBe(422);
  });
});

describe("error bodies", () => {
  test("unknown path: 404 {detail}", async () => {
    const r = await http.get("/api/v1/definitely/not/here");
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ detail: "Not found" });
  });
  test("known path, wrong method: 405 {detail} with Allow", async () => {
    const r = await http.delete("/auth/login");
    expect(r.status).toBe(405);
    expect(r.headers.get("allow")).toBe("POST");
    expect(Object.keys(r.body)).toEqual(["detail"]);
  });
  test("a static segment is never a parameter, whatever the method: 405 with the static route's Allow, or 404", async () => {
    // Each of these has a `{id}` twin with this method (DELETE /chats/{chat_id}, ...), which used to answer 422.
    for (const [method, path, allow] of [
      ["DELETE", "/chats/saved", "GET"],
      ["DELETE", "/chats/discover", "GET"],
      ["GET", "/chats/join-by-invite", "POST"],
      ["DELETE", "/messages/search", "GET"],
    ] as const) {
      const r = await api(server.url, method, path, { token: alice.token });
      expect([path, r.status, r.headers.get("allow")]).toEqual([path, 405, allow]);
      expect(r.body).toEqual({ detail: "Method not allowed" });
    }
    // No route at all once the static word is not an id.
    for (const [method, path] of [
      ["PATCH", "/chats/saved/title"],
      ["GET", "/chats/discover/members"],
      ["POST", "/users/me/contacts"],
    ] as const) {
      const r = await api(server.url, method, path, { token: alice.token, body: method === "GET" ? undefined : {} });
      expect([path, r.status]).toEqual([path, 404]);
    }
    // The parameter routes still answer ids.
    expect((await http.delete("/chats/2147483647", { token: alice.token })).status).toBe(404);
  });
  test("no token on a protected path: 401 with WWW-Authenticate: Bearer", async () => {
    const r = await http.get("/auth/me");
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toBe("Bearer");
    expect(typeof r.body.detail).toBe("string");
  });
  test("no token: 401 even when the input holds NUL (the caller is checked first)", async () => {
    const send = await http.post("/messages", { body: { chat_id: 1, text: "a\u0000b" } });
    expect({ status: send.status, challenge: send.headers.get("www-authenticate") }).toEqual({ status: 401, challenge: "Bearer" });
    expect((await http.get("/users/search?query=a%00b")).status).toBe(401);
    // Signed in, the same input is 422 naming the field.
    const mine = await http.post("/messages", { token: alice.token, body: { chat_id: 1, text: "a\u0000b" } });
    expect(mine.status).toBe(422);
  });
  test("bad token: 401", async () => {
    const r = await http.get("/auth/me", { token: "not.a.jwt" });
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toBe("Bearer");
  });
  test("malformed JSON: 400 {detail}", async () => {
    const r = await http.post("/auth/login", { raw: '{"email": ' });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ detail: "Malformed JSON body" });
  });
  test("validation: 422 naming the field", async () => {
    const r = await http.post("/auth/register", { body: { email: "x@example.com", name: "X", username: "ab", password: "longenough" } });
    expect(r.status).toBe(422);
    expect(Object.keys(r.body)).toEqual(["detail"]);
    expect(r.body.detail).toStartWith("username:");
  });
  test("an integer in the path or query is canonical decimal: 01, 1.0, +1 and 1e0 are 422 like abc, not another name for 1", async () => {
    const created = await http.post("/chats", { token: alice.token, body: { type: "group", title: "canonical ids" } });
    expect(created.status).toBe(200);
    const id = created.body.id as number;
    expect((await http.get(`/chats/${id}`, { token: alice.token })).status).toBe(200);
    for (const spelled of [`0${id}`, `${id}.0`, `%2B${id}`, `${id}e0`, "abc"]) {
      const r = await http.get(`/chats/${spelled}`, { token: alice.token });
      expect([spelled, r.status]).toEqual([spelled, 422]);
      expect(r.body.detail).toContain("chat_id");
    }
    for (const limit of ["05", "5.0"]) expect([limit, (await http.get(`/chats?limit=${limit}`, { token: alice.token })).status]).toEqual([limit, 422]);
    expect((await http.get("/chats?limit=5", { token: alice.token })).status).toBe(200);
  });
  test("oversize body: 413 {detail}", async () => {
    const r = await http.post("/auth/login", { raw: JSON.stringify({ email: "a".repeat(2 * 1024 * 1024) }) });
    expect(r.status).toBe(413);
    expect(typeof r.body.detail).toBe("string");
  });
  test("wrong content type: 415 {detail}", async () => {
    const r = await http.post("/auth/login", { raw: "email=x", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(r.status).toBe(415);
    expect(typeof r.body.detail).toBe("string");
  });
  test("no error body carries a stack", async () => {
    const r = await http.post("/auth/register", { body: { email: 5 } });
    expect(r.text).not.toContain("stack");
    expect(r.text).not.toContain("at ");
  });
});

describe("tRPC endpoint", () => {
  test("query through /trpc with batching", async () => {
    const r = await http.get(`/trpc/auth.me,health.check?batch=1&input=${encodeURIComponent(JSON.stringify({ 0: {}, 1: {} }))}`, { token: alice.token });
    expect(r.status).toBe(200);
    expect(r.body[0].result.data.id).toBe(alice.id);
    expect(r.body[1].result.data).toEqual({ status: "ok" });
  });
  test("tRPC answers GET, HEAD and POST; other methods get 405 with Allow in tRPC's error envelope, and a HEAD the GET's status without a body", async () => {
    for (const method of ["PUT", "DELETE", "PATCH", "OPTIONS"]) {
      const r = await api(server.url, method, "/trpc/auth.me", { token: alice.token });
      expect([method, r.status, r.headers.get("allow")]).toEqual([method, 405, "GET, HEAD, POST"]);
      expect(r.body.error).toMatchObject({ message: "Method not allowed", data: { code: "METHOD_NOT_SUPPORTED", httpStatus: 405, detail: "Method not allowed" } });
    }
    const head = await fetch(`${server.url}/trpc/auth.me`, { method: "HEAD", headers: { authorization: `Bearer ${alice.token}` } });
    expect([head.status, head.headers.get("content-type"), await head.text()]).toEqual([200, "application/json", ""]);
    const anonymous = await fetch(`${server.url}/trpc/auth.me`, { method: "HEAD" });
    expect(anonymous.status).toBe(401);
  });
  test("tRPC errors carry no stack", async () => {
    const r = await http.get(`/trpc/auth.me?input=${encodeURIComponent("{}")}`);
    expect(r.status).toBe(401);
    expect(r.text).not.toContain("stack");
  });
});

describe("logging", () => {
  test("one structured line per request, without tokens", async () => {
    await http.get("/auth/me", { token: alice.token });
    const lines = server.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "request" && l.path === "/api/v1/auth/me");
    const last = lines.at(-1);
    expect(last).toMatchObject({ method: "GET", status: 200, user_id: alice.id });
    expect(typeof last.ms).toBe("number");
    expect(server.logs.join("\n")).not.toContain(alice.token);
  });
});

/** One raw HTTP/1.1 exchange over TCP (what fetch will not send: a bad Host, chunked bodies). */
async function rawHttp(baseUrl: string, request: string | Uint8Array): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(baseUrl);
  let received = "";
  const done = Promise.withResolvers<void>();
  const socket = await Bun.connect({
    hostname,
    port: Number(port),
    socket: {
      data(_s, chunk) {
        received += new TextDecoder().decode(chunk);
        if (/\r\n0\r\n\r\n$/.test(received) || /content-length: (\d+)\r\n/i.test(received)) {
          const length = Number(/content-length: (\d+)\r\n/i.exec(received)?.[1] ?? "-1");
          const body = received.split("\r\n\r\n").slice(1).join("\r\n\r\n");
          if (length >= 0 && Buffer.byteLength(body) >= length) done.resolve();
        }
      },
      close() {
        done.resolve();
      },
    },
  });
  socket.write(request);
  await Promise.race([done.promise, Bun.sleep(5000)]);
  socket.end();
  return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(received)?.[1] ?? 0), text: received };
}

describe("malformed requests", () => {
  test("a Host header that makes no URL: 400 {detail}, not 500", async () => {
    for (const host of ["a b", "x:abc", "[::1"]) {
      const r = await rawHttp(server.url, `GET /health HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect({ host, status: r.status }).toEqual({ host, status: 400 });
      expect(r.text).toContain('"detail"');
    }
    // HTTP/1.0 does not require a Host header: such a request (some health probes) is answered.
    const old = await rawHttp(server.url, "GET /health HTTP/1.0\r\n\r\n");
    expect(old.text).toMatch(/^HTTP\/1\.[01] 200/);
  });

  test("a client that goes away in the middle of its body is not logged as a server error", async () => {
    const before = server.logs.length;
    for (const path of ["/api/v1/auth/login", "/trpc/auth.login"]) {
      const socket = await Bun.connect({ hostname: "127.0.0.1", port: Number(new URL(server.url).port), socket: { data() {} } });
      socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"email":"half`);
      await Bun.sleep(100);
      socket.end();
    }
    const linesSince = () => server.logs.slice(before).map((l) => JSON.parse(l) as { level: string; msg: string; path?: string });
    for (let i = 0; i < 100 && linesSince().filter((l) => l.msg === "client went away").length < 2; i++) await Bun.sleep(20);
    const lines = linesSince();
    expect(lines.filter((l) => l.msg === "client went away").map((l) => [l.level, l.path]).sort()).toEqual([
      ["info", "/api/v1/auth/login"],
      ["info", "/trpc/auth.login"],
    ]);
    expect(lines.filter((l) => l.level === "error")).toEqual([]);
  });

  test("tRPC: a chunked body over MAX_BODY_BYTES is 413 before the procedure runs; bytes that are not UTF-8 are 400", async () => {
    const limit = server.app.config.MAX_BODY_BYTES;
    const text = "x".repeat(limit);
    const body = JSON.stringify({ email: text, password: "irrelevant" });
    const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
    const half = Math.floor(body.length / 2);
    const r = await rawHttp(
      server.url,
      `POST /trpc/auth.login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunk(body.slice(0, half))}${chunk(body.slice(half))}0\r\n\r\n`,
    );
    expect(r.status).toBe(413);
    // tRPC's error envelope, which the typed client reads (a REST `{detail}` body it cannot).
    const tooLarge = JSON.parse(r.text.split("\r\n\r\n").slice(1).join("\r\n\r\n")) as { error: { data: { code: string; httpStatus: number } } };
    expect(tooLarge.error.data).toMatchObject({ code: "PAYLOAD_TOO_LARGE", httpStatus: 413 });

    const bad = new Uint8Array([...new TextEncoder().encode('{"email":"a'), 0xff, 0xfe, ...new TextEncoder().encode('@x.io","password":"p"}')]);
    const res = await fetch(`${server.url}/trpc/auth.login`, { method: "POST", headers: { "content-type": "application/json" }, body: bad });
    expect(res.status).toBe(400);
    const notUtf8 = (await res.json()) as { error: { data: { code: string; detail: string } } };
    expect(notUtf8.error.data).toMatchObject({ code: "BAD_REQUEST", detail: "Malformed body: not UTF-8" });
  });

  test("the OpenAPI document, /docs, /app and /ws are GET only: 405 with Allow", async () => {
    for (const path of ["/app", "/ws"]) {
      const res = await fetch(`${server.url}${path}`, { method: "POST" });
      expect({ path, status: res.status, allow: res.headers.get("allow") }).toEqual({ path, status: 405, allow: "GET" });
    }
    for (const path of ["/api/v1/openapi.json", "/docs"]) {
      const res = await fetch(`${server.url}${path}`, { method: "POST" });
      expect({ path, status: res.status, allow: res.headers.get("allow") }).toEqual({ path, status: 405, allow: "GET" });
      expect((await fetch(`${server.url}${path}`)).status).toBe(200);
    }
  });
});

describe("REST input sources", () => {
  test("a body method takes its input from the body and the path, never the query string", async () => {
    const me = await createUser(server);
    const r = await http.put("/users/profile?name=ViaQuery", { token: me.token, body: { name: "ViaBody" } });
    expect(r.status).toBe(200);
    expect(r.body.name).toBe("ViaBody");
    // A query-only field on a body route is not read either.
    const q = await http.put("/users/profile?bio=from-query", { token: me.token, body: {} });
    expect(q.status).toBe(200);
    expect(q.body.bio ?? null).not.toBe("from-query");
    // GET and DELETE still read the query.
    expect((await http.get("/chats?limit=1", { token: me.token })).status).toBe(200);
  });
});
