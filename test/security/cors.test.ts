/**
 * CORS (src/http/cors.ts): browser front-ends on an allowed origin may call /api/v1, /trpc and
 * /files; other origins get no allow headers; requests without Origin get no CORS headers at all.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../../src/env";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { bytesOf, requestUpload } from "../media/support";

// The default allow-list is FRONTEND_URL's origin, and the test servers leave both unset.
const FRONT = "http://localhost:5173";
const STRANGER = "https://evil.example";

let server: TestServer;
let alice: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  alice = await createUser(server);
});
afterAll(() => server.stop());

function preflight(base: string, path: string, origin: string, method: string, headers = "authorization, content-type") {
  return fetch(path.startsWith("http") ? path : `${base}${path}`, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": method, "access-control-request-headers": headers },
  });
}

/** Every access-control-* header of an answer. */
function corsHeaders(res: Response): Record<string, string> {
  return Object.fromEntries([...res.headers].filter(([k]) => k.startsWith("access-control-")));
}

const SENT_FOR_ALLOWED = {
  "access-control-allow-origin": FRONT,
  "access-control-expose-headers": "retry-after, www-authenticate, etag",
};

describe("preflight from the allowed origin", () => {
  test.each([
    ["REST", "/api/v1/users/me", "GET", "GET, HEAD, POST, PUT, PATCH, DELETE"],
    ["REST with a body", "/api/v1/chats", "POST", "GET, HEAD, POST, PUT, PATCH, DELETE"],
    ["tRPC", "/trpc/users.me", "POST", "GET, HEAD, POST"],
  ])("%s %s: 204 with each allow header", async (_name, path, method, methods) => {
    const r = await preflight(server.url, path, FRONT, method);
    expect(r.status).toBe(204);
    expect(await r.text()).toBe("");
    expect(r.headers.get("content-type")).toBeNull();
    expect(corsHeaders(r)).toEqual({
      "access-control-allow-origin": FRONT,
      "access-control-allow-methods": methods,
      "access-control-allow-headers": "authorization, content-type, x-request-id, trpc-accept",
      "access-control-max-age": "600",
    });
    expect(r.headers.get("vary")).toBe("Origin");
  });

  test("a local upload URL: the preflight allows PUT with its Content-Type, and the PUT answers with Allow-Origin and a readable ETag", async () => {
    const bytes = bytesOf("hello cors");
    const ticket = await requestUpload(client(server.url), alice, "text/plain", bytes);
    expect(ticket.upload_url).toContain("/files/uploads/");
    const pre = await preflight(server.url, ticket.upload_url, FRONT, "PUT", "content-type");
    expect(pre.status).toBe(204);
    expect(corsHeaders(pre)).toMatchObject({
      "access-control-allow-origin": FRONT,
      "access-control-allow-methods": "GET, HEAD, PUT",
      "access-control-allow-headers": "authorization, content-type, x-request-id, trpc-accept",
    });
    const put = await fetch(ticket.upload_url, { method: "PUT", headers: { origin: FRONT, "content-type": "text/plain" }, body: bytes });
    expect(put.status).toBe(200);
    expect(corsHeaders(put)).toEqual(SENT_FOR_ALLOWED);
    expect(put.headers.get("etag")).toMatch(/^"[0-9a-f]{32}"$/);
    const got = await fetch(ticket.file_url, { headers: { origin: FRONT } });
    expect([got.status, await got.text(), got.headers.get("access-control-allow-origin")]).toEqual([200, "hello cors", FRONT]);
  });
});

describe("preflight from another origin", () => {
  test("403 {detail} and no access-control-* header, on each CORS path", async () => {
    for (const path of ["/api/v1/users/me", "/trpc/users.me", "/files/uploads/1/abcdefghijklmnopqrstuv.txt"]) {
      const r = await preflight(server.url, path, STRANGER, "PUT");
      expect([path, r.status, corsHeaders(r)]).toEqual([path, 403, {}]);
      expect(await r.json()).toEqual({ detail: "Origin not allowed" });
    }
    // The allow-list compares whole origins: another port or scheme of the front-end is another origin.
    for (const origin of ["http://localhost:5174", "https://localhost:5173", "null"]) {
      const r = await preflight(server.url, "/api/v1/users/me", origin, "GET");
      expect([origin, r.status, corsHeaders(r)]).toEqual([origin, 403, {}]);
    }
  });
});

describe("requests from the allowed origin", () => {
  test("GET /api/v1/users/me: the answer carries Allow-Origin, Vary and Expose-Headers; no credentials header", async () => {
    const r = await fetch(`${server.url}/api/v1/users/me`, { headers: { origin: FRONT, authorization: `Bearer ${alice.token}` } });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { id: number }).id).toBe(alice.id);
    expect(corsHeaders(r)).toEqual(SENT_FOR_ALLOWED);
    expect(r.headers.get("vary")).toBe("Origin");
  });

  test("error answers carry them too: 401 (with its readable challenge), 404, 405, and tRPC's 401", async () => {
    const unauth = await fetch(`${server.url}/api/v1/users/me`, { headers: { origin: FRONT } });
    expect(unauth.status).toBe(401);
    expect(unauth.headers.get("www-authenticate")).toBe("Bearer");
    expect(await unauth.json()).toEqual({ detail: expect.any(String) });
    expect(corsHeaders(unauth)).toEqual(SENT_FOR_ALLOWED);
    expect(unauth.headers.get("vary")).toBe("Origin");

    const missing = await fetch(`${server.url}/api/v1/no-such-route`, { headers: { origin: FRONT } });
    expect([missing.status, corsHeaders(missing)]).toEqual([404, SENT_FOR_ALLOWED]);

    const trpc = await fetch(`${server.url}/trpc/users.me`, { headers: { origin: FRONT } });
    expect([trpc.status, corsHeaders(trpc)]).toEqual([401, SENT_FOR_ALLOWED]);
    // tRPC's own Vary stays; Origin joins it.
    expect(trpc.headers.get("vary")).toBe("trpc-accept, accept, Origin");
  });

  test("an OPTIONS that is no preflight keeps its 405 + Allow", async () => {
    const r = await fetch(`${server.url}/api/v1/users/me`, { method: "OPTIONS", headers: { origin: FRONT } });
    expect([r.status, r.headers.get("allow"), r.headers.get("access-control-allow-origin")]).toEqual([405, "GET", FRONT]);
    const trpc = await fetch(`${server.url}/trpc/users.me`, { method: "OPTIONS", headers: { origin: FRONT } });
    expect([trpc.status, trpc.headers.get("allow")]).toEqual([405, "GET, HEAD, POST"]);
  });

  test("paths outside /api/v1, /trpc and /files get no CORS headers", async () => {
    for (const path of ["/health", "/docs", "/api/v10", "/trpcx"]) {
      const r = await fetch(`${server.url}${path}`, { headers: { origin: FRONT } });
      expect([path, corsHeaders(r)]).toEqual([path, {}]);
    }
    const pre = await preflight(server.url, "/health", FRONT, "GET");
    expect([pre.status, corsHeaders(pre)]).toEqual([405, {}]);
  });
});

describe("requests from another origin, and without Origin", () => {
  test("another origin: the answer is the same but without allow headers (the browser withholds it)", async () => {
    const r = await fetch(`${server.url}/api/v1/users/me`, { headers: { origin: STRANGER, authorization: `Bearer ${alice.token}` } });
    expect(r.status).toBe(200);
    expect(corsHeaders(r)).toEqual({});
    expect(r.headers.get("vary")).toBe("Origin");
  });

  test("no Origin: no CORS header and no Vary: Origin, success or error; a bare OPTIONS still answers 405", async () => {
    const ok = await fetch(`${server.url}/api/v1/users/me`, { headers: { authorization: `Bearer ${alice.token}` } });
    const err = await fetch(`${server.url}/api/v1/users/me`);
    const trpc = await fetch(`${server.url}/trpc/users.me`, { headers: { authorization: `Bearer ${alice.token}` } });
    const options = await fetch(`${server.url}/api/v1/users/me`, { method: "OPTIONS", headers: { "access-control-request-method": "GET" } });
    for (const [r, status] of [[ok, 200], [err, 401], [trpc, 200], [options, 405]] as const) {
      expect([r.status, corsHeaders(r), r.headers.get("vary")?.includes("Origin") ?? false]).toEqual([status, {}, false]);
    }
  });
});

describe("CORS_ALLOWED_ORIGINS=*", () => {
  let open: TestServer;
  beforeAll(async () => {
    open = await startTestServer({ env: { CORS_ALLOWED_ORIGINS: "*" } });
  });
  afterAll(() => open.stop());

  test("any origin: preflight and answers carry Allow-Origin *, never Allow-Credentials", async () => {
    for (const origin of [STRANGER, FRONT]) {
      const pre = await preflight(open.url, "/api/v1/users/me", origin, "GET");
      expect([pre.status, pre.headers.get("access-control-allow-origin")]).toEqual([204, "*"]);
      const r = await fetch(`${open.url}/api/v1/users/me`, { headers: { origin } });
      expect([r.status, r.headers.get("access-control-allow-origin"), r.headers.get("vary")]).toEqual([401, "*", "Origin"]);
      expect(r.headers.get("access-control-allow-credentials")).toBeNull();
      expect(pre.headers.get("access-control-allow-credentials")).toBeNull();
    }
    const bare = await fetch(`${open.url}/api/v1/users/me`);
    expect(corsHeaders(bare)).toEqual({});
  });
});

describe("CORS_ALLOWED_ORIGINS configuration", () => {
  test("unset: FRONTEND_URL's origin (path and trailing slash dropped)", () => {
    expect(loadConfig({}).CORS_ALLOWED_ORIGINS).toEqual([FRONT]);
    expect(loadConfig({ FRONTEND_URL: "https://chat.example.com/app/" }).CORS_ALLOWED_ORIGINS).toEqual(["https://chat.example.com"]);
    expect(loadConfig({ CORS_ALLOWED_ORIGINS: "" }).CORS_ALLOWED_ORIGINS).toEqual([FRONT]);
  });

  test("entries are normalised as browsers send Origin: lower-case host, no default port, no trailing slash", () => {
    expect(loadConfig({ CORS_ALLOWED_ORIGINS: " https://App.Example.com/ , http://localhost:8080,https://b.example:443" }).CORS_ALLOWED_ORIGINS).toEqual([
      "https://app.example.com",
      "http://localhost:8080",
      "https://b.example",
    ]);
    expect(loadConfig({ CORS_ALLOWED_ORIGINS: "*" }).CORS_ALLOWED_ORIGINS).toEqual(["*"]);
  });

  test.each(["https://app.example.com/path", "app.example.com", "ftp://app.example.com", "null", "*, https://app.example.com", "https://a.example?x=1", "https://user@a.example", ","])(
    "%p fails with a message naming CORS_ALLOWED_ORIGINS",
    (value) => {
      expect(() => loadConfig({ CORS_ALLOWED_ORIGINS: value })).toThrow(ConfigError);
      expect(() => loadConfig({ CORS_ALLOWED_ORIGINS: value })).toThrow(/^CORS_ALLOWED_ORIGINS: /);
    },
  );
});
