/**
 * The /trpc short path (src/http/trpc-handler.ts) answers exactly what tRPC's fetch adapter
 * answers: same status, headers and body bytes, for successes and for every kind of error. Each
 * request goes to both handlers over the same app; the ones the short path must take are checked to
 * be taken, the rest to be handed to the adapter.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createContext } from "../../src/context";
import { AppError } from "../../src/errors";
import { createTrpcHandler } from "../../src/http/trpc-handler";
import { appRouter } from "../../src/routers/_app";
import { MAX_TRPC_BATCH } from "../../src/server";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";

let server: TestServer;
let alice: TestUser;
let bob: TestUser;

const fast = createTrpcHandler(appRouter, { maxBatchSize: MAX_TRPC_BATCH });
const adapter = createTrpcHandler(appRouter, { maxBatchSize: MAX_TRPC_BATCH, fastPath: false });

beforeAll(async () => {
  server = await startTestServer();
  alice = await createUser(server);
  bob = await createUser(server);
});
afterAll(() => server.stop());

interface Call {
  method?: string;
  path: string;
  token?: string;
  body?: string;
  headers?: Record<string, string>;
}

const q = (input: unknown) => `input=${encodeURIComponent(JSON.stringify(input))}`;

function requestOf(c: Call): Request {
  const headers: Record<string, string> = { ...(c.headers ?? {}) };
  if (c.token) headers.authorization = `Bearer ${c.token}`;
  if (c.body !== undefined && !("content-type" in headers)) headers["content-type"] = "application/json";
  return new Request(`http://localhost${c.path}`, { method: c.method ?? "GET", headers, body: c.body });
}

type MakeCtx = Parameters<typeof fast>[2];
const realContext = (req: Request): MakeCtx => () => createContext(server.app, { req, remoteAddress: () => "127.0.0.1", requestId: "trpc-fast-path" });

async function snapshot(res: Response) {
  return { status: res.status, headers: [...res.headers], body: Buffer.from(await res.arrayBuffer()).toString("hex") };
}

/** Both handlers' answers to the same call; `direct` says whether the short path took it. */
async function both(c: Call, ctxOf: (req: Request) => MakeCtx = realContext) {
  const a = requestOf(c);
  const b = requestOf(c);
  const direct = fast.handlesDirectly(a, new URL(a.url));
  const viaFast = await snapshot(await fast(a, new URL(a.url), ctxOf(a)));
  const viaAdapter = await snapshot(await adapter(b, new URL(b.url), ctxOf(b)));
  return { direct, viaFast, viaAdapter, text: Buffer.from(viaFast.body, "hex").toString("utf8") };
}

async function expectSame(c: Call, opts: { direct: boolean; status: number }, ctxOf?: (req: Request) => MakeCtx): Promise<string> {
  const r = await both(c, ctxOf);
  expect(r.viaFast).toEqual(r.viaAdapter);
  expect(r.viaFast.status).toBe(opts.status);
  expect(r.direct).toBe(opts.direct);
  return r.text;
}

describe("tRPC short path: same bytes as the fetch adapter", () => {
  test("query success", async () => {
    const text = await expectSame({ path: `/trpc/auth.me?${q({})}`, token: alice.token }, { direct: true, status: 200 });
    expect(JSON.parse(text).result.data.id).toBe(alice.id);
    await expectSame({ path: `/trpc/users.get?${q({ user_id: bob.id })}`, token: alice.token }, { direct: true, status: 200 });
    await expectSame({ path: `/trpc/auth.me/?${q({})}`, token: alice.token }, { direct: true, status: 200 });
  });

  test("query errors: 401 (with the challenge), 422, 404, unstorable input, absent input", async () => {
    const anon = await expectSame({ path: `/trpc/auth.me?${q({})}` }, { direct: true, status: 401 });
    expect(JSON.parse(anon).error.data.detail).toBe("Not authenticated");
    await expectSame({ path: `/trpc/auth.me?${q({})}`, token: "not.a.token" }, { direct: true, status: 401 });
    await expectSame({ path: `/trpc/users.get?${q({ user_id: "x" })}`, token: alice.token }, { direct: true, status: 422 });
    await expectSame({ path: `/trpc/users.get?${q({ user_id: 2147483646 })}`, token: alice.token }, { direct: true, status: 404 });
    await expectSame({ path: `/trpc/users.search?${q({ query: "a\u0000b" })}`, token: alice.token }, { direct: true, status: 422 });
    await expectSame({ path: "/trpc/users.get", token: alice.token }, { direct: true, status: 422 });
  });

  test("the 401 carries WWW-Authenticate on both paths", async () => {
    const r = await both({ path: `/trpc/auth.me?${q({})}` });
    expect(new Headers(r.viaFast.headers).get("www-authenticate")).toBe("Bearer");
  });

  test("mutation success and error", async () => {
    const text = await expectSame({ method: "POST", path: "/trpc/auth.revokeOtherSessions", token: alice.token, body: "{}" }, { direct: true, status: 200 });
    expect(JSON.parse(text)).toEqual({ result: {} });
    await expectSame({ method: "POST", path: "/trpc/users.block", token: alice.token, body: JSON.stringify({ user_id: alice.id }) }, { direct: true, status: 422 });
    await expectSame({ method: "POST", path: "/trpc/users.block", token: alice.token, body: JSON.stringify({ user_id: 2147483646 }) }, { direct: true, status: 404 });
    await expectSame({ method: "POST", path: "/trpc/auth.revokeOtherSessions", body: "{}" }, { direct: true, status: 401 });
    await expectSame(
      { method: "POST", path: "/trpc/users.block", token: alice.token, body: "{}", headers: { "content-type": "Application/JSON; charset=utf-8" } },
      { direct: true, status: 422 },
    );
  });

  test("a context that cannot be built: 503 for an AppError, 500 otherwise", async () => {
    const unavailable = () => () => Promise.reject(new AppError("UNAVAILABLE", "Service temporarily unavailable"));
    await expectSame({ path: `/trpc/auth.me?${q({})}`, token: alice.token }, { direct: true, status: 503 }, unavailable);
    const broken = () => () => Promise.reject(new Error("boom"));
    await expectSame({ method: "POST", path: "/trpc/users.block", token: alice.token, body: "{}" }, { direct: true, status: 500 }, broken);
  });

  test("handed to the adapter: batches, wrong methods, unknown paths, bad JSON, other content types, streaming", async () => {
    const batch = `/trpc/auth.me,users.me?batch=1&${q({ 0: {}, 1: {} })}`;
    await expectSame({ path: batch, token: alice.token }, { direct: false, status: 200 });
    await expectSame({ method: "POST", path: `/trpc/auth.me?${q({})}`, token: alice.token, body: "{}" }, { direct: false, status: 405 });
    await expectSame({ path: "/trpc/auth.revokeOtherSessions", token: alice.token }, { direct: false, status: 405 });
    await expectSame({ path: `/trpc/auth.nothing?${q({})}`, token: alice.token }, { direct: false, status: 404 });
    await expectSame({ path: `/trpc//auth.me?${q({})}`, token: alice.token }, { direct: false, status: 404 });
    await expectSame({ path: "/trpc/%E0%A4%A?input=%7B%7D", token: alice.token }, { direct: false, status: 400 });
    await expectSame({ method: "POST", path: "/trpc/users.block", token: alice.token, body: "text", headers: { "content-type": "text/plain" } }, { direct: false, status: 415 });
    await expectSame({ path: `/trpc/auth.me?${q({})}`, token: alice.token, headers: { "trpc-accept": "application/jsonl" } }, { direct: false, status: 400 });
    await expectSame({ path: `/trpc/auth.me?${q({})}`, token: alice.token, headers: { "content-type": "multipart/form-data; boundary=x" } }, { direct: false, status: 405 });
    await expectSame({ method: "HEAD", path: "/trpc/auth.me", token: alice.token }, { direct: false, status: 204 });
  });

  test("input that is not JSON is answered by the adapter, body included", async () => {
    await expectSame({ path: "/trpc/auth.me?input=%7Bnope", token: alice.token }, { direct: true, status: 400 });
    await expectSame({ method: "POST", path: "/trpc/users.block", token: alice.token, body: "{nope" }, { direct: true, status: 400 });
  });
});
