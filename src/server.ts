/**
 * Bun.serve: one listener for /health*, /trpc, /api/v1 (REST bridge + OpenAPI), /docs, /ws,
 * /files (local storage) and /app. Every request gets one structured log line.
 */
import type { Server } from "bun";
import { randomBytes } from "node:crypto";
import type { App } from "./app";
import { createContext, unavailableAs503, type Context } from "./context";
import { AppError } from "./errors";
import { createCors } from "./http/cors";
import { handleHealth } from "./http/health";
import { DOCS_HTML, openApiDocument } from "./http/openapi";
import { decodeUtf8Strict, errorResponse, json, readBodyCapped } from "./http/respond";
import { createRestBridge } from "./http/rest-bridge";
import { TRPCError } from "@trpc/server";
import { createTrpcHandler } from "./http/trpc-handler";
import { handleFiles } from "./media/files-route";
import { createGateway, type SocketData } from "./realtime/gateway";
import { appRouter } from "./routers/_app";
import { handleWebApp } from "./web/app-route";

export const API_PREFIX = "/api/v1";

const isWildcard = (hostname: string) => hostname === "0.0.0.0" || hostname === "::" || hostname === "";

/**
 * A URL that reaches the listener: a wildcard address (HOST=0.0.0.0 or ::) is no address to send
 * to, so the loopback address of its family stands in; IPv6 literals go in brackets.
 */
export function listenerUrl(hostname: string, port: number): string {
  const host = hostname === "0.0.0.0" ? "127.0.0.1" : isWildcard(hostname) ? "[::1]" : hostname.includes(":") ? `[${hostname}]` : hostname;
  return `http://${host}:${port}`;
}
/** Calls in one tRPC batch at most (each still counts against rate limits). */
export const MAX_TRPC_BATCH = 20;

export interface RunningServer {
  server: Server<SocketData>;
  url: string;
  /** Graceful: see `stopGracefully`. */
  stop(graceMs?: number): Promise<void>;
}

export interface ServerOptions {
  port?: number;
  hostname?: string;
  /** False sends every tRPC call through the fetch adapter (tests compare the two paths). */
  trpcFastPath?: boolean;
}

export async function startServer(app: App, opts: ServerOptions = {}): Promise<RunningServer> {
  const bridge = createRestBridge(appRouter._def.procedures, { prefix: API_PREFIX, maxBodyBytes: app.config.MAX_BODY_BYTES });
  const trpc = createTrpcHandler(appRouter, { maxBatchSize: MAX_TRPC_BATCH, fastPath: opts.trpcFastPath });
  const gateway = createGateway(app);
  const cors = createCors(app.config.CORS_ALLOWED_ORIGINS);
  const bodyLimit = Math.max(app.config.MAX_BODY_BYTES, app.config.MAX_UPLOAD_SIZE_BYTES) + 1024 * 1024;

  async function route(req: Request, url: URL, server: Server<SocketData>, seen: { ctx?: Context }): Promise<Response | undefined> {
    const path = url.pathname;
    const makeCtx = async () => {
      seen.ctx = await createContext(app, { req, remoteAddress: () => server.requestIP(req)?.address ?? null, requestId: requestIdOf(req) });
      return seen.ctx;
    };
    if (path.startsWith("/health")) {
      const r = await handleHealth(app, req.method, path);
      if (r) return r;
    }
    if (path.startsWith(`${API_PREFIX}/`) || path === API_PREFIX) {
      if (path === `${API_PREFIX}/openapi.json`) return readOnly(req) ?? json(openApiDocument());
      return bridge.handle(req, url, makeCtx);
    }
    if (path.startsWith("/trpc")) return handleTrpc(req, url, makeCtx);
    if (path === "/ws") return gateway.upgrade(req, url, server);
    if (path === "/docs") return readOnly(req) ?? new Response(DOCS_HTML, { headers: { "content-type": "text/html; charset=utf-8" } });
    if (path.startsWith("/files/")) {
      const r = await handleFiles(app, req, url);
      if (r) return r;
    }
    if (path === "/app" || path.startsWith("/app/")) {
      const r = await handleWebApp(app, req, url);
      if (r) return r;
    }
    return errorResponse(404, "Not found");
  }

  /**
   * The body is read here, capped while reading (a chunked body declares no length) and decoded
   * strictly, as the REST bridge does: tRPC's own reading takes whatever Bun buffered (up to the
   * upload limit) and replaces bytes that are not UTF-8.
   */
  async function handleTrpc(req: Request, url: URL, makeCtx: () => Promise<Context>): Promise<Response> {
    if (req.method === "GET") return trpc(req, url, makeCtx);
    if (req.method === "HEAD") {
      // A HEAD is the GET without its body (RFC 9110 §9.3.2); the adapter answered 204 to any.
      const got = await trpc(new Request(req.url, { method: "GET", headers: req.headers }), url, makeCtx);
      return new Response(null, { status: got.status, headers: got.headers });
    }
    if (req.method !== "POST")
      return trpc.refuse(new TRPCError({ code: "METHOD_NOT_SUPPORTED", message: "Method not allowed" }), { allow: "GET, HEAD, POST" });
    const bytes = await readBodyCapped(req, app.config.MAX_BODY_BYTES);
    if (bytes === null) return trpc.refuse(new TRPCError({ code: "PAYLOAD_TOO_LARGE", message: `Request body exceeds ${app.config.MAX_BODY_BYTES} bytes` }));
    let body: string;
    try {
      body = decodeUtf8Strict(bytes);
    } catch {
      return trpc.refuse(new TRPCError({ code: "BAD_REQUEST", message: "Malformed body: not UTF-8" }));
    }
    return trpc(req, url, makeCtx, body);
  }

  const server = Bun.serve<SocketData>({
    port: opts.port ?? app.config.PORT,
    hostname: opts.hostname ?? app.config.HOST,
    maxRequestBodySize: bodyLimit,
    websocket: gateway.websocket,
    async fetch(req, srv) {
      const started = performance.now();
      const url = parseRequestUrl(req, `http://${srv.hostname}:${srv.port}`);
      if (!url) return errorResponse(400, "Malformed request: bad Host header or target");
      const seen: { ctx?: Context } = {};
      // Only cross-origin browser calls carry Origin; everything else skips CORS after this read.
      const origin = req.headers.get("origin");
      // A preflight is answered before routing: the routes would answer its OPTIONS with 405.
      const preflight = origin === null ? null : cors.preflight(req, url.pathname, origin);
      let res: Response | undefined;
      try {
        // Routes outside the procedures (the /ws upgrade checks its token in the database) answer
        // 503 while a backing service is down, like procedures do.
        res = preflight ?? (await route(req, url, srv, seen).catch(unavailableAs503));
      } catch (err) {
        if (err instanceof AppError) res = errorResponse(err.status, err.message);
        else if (req.signal.aborted) {
          // The client closed the connection before its body arrived: nobody will read an answer,
          // and it is not our failure (logged as an error, it buried real ones).
          app.log.info("client went away", { path: url.pathname, error: err instanceof Error ? err.message : String(err) });
          res = errorResponse(400, "Request body incomplete: the connection was closed");
        } else {
          app.log.error("request failed", { path: url.pathname, error: err instanceof Error ? err.message : String(err) });
          res = errorResponse(500, "Internal server error");
        }
      }
      // Every other answer on a CORS path, errors included, gets its headers here, once.
      if (origin !== null && res && res !== preflight) res = cors.decorate(res, url.pathname, origin);
      app.log.info("request", {
        method: req.method,
        path: url.pathname,
        status: res?.status ?? 101,
        ms: Math.round((performance.now() - started) * 10) / 10,
        user_id: seen.ctx?.user?.id,
        request_id: seen.ctx?.requestId,
      });
      return res;
    },
    error(err) {
      app.log.error("server error", { error: err.message });
      return errorResponse(500, "Internal server error");
    },
  });
  await gateway.start(server);
  const url = listenerUrl(server.hostname ?? "localhost", server.port ?? 0);
  // The local storage driver's file URLs point at this listener (its port is known only now).
  app.storage.bindServerUrl(url);
  if (app.storage.kind === "local" && !app.config.publicFileBase && isWildcard(server.hostname ?? ""))
    app.log.warn("file URLs point at this machine's loopback address: set S3_PUBLIC_URL to this server's public URL + /files for other machines' clients", { url });
  return {
    server,
    url,
    stop: (graceMs = SHUTDOWN_GRACE_MS) => stopGracefully(server, graceMs),
  };
}

/** How long a stopping server waits for the requests in flight before it cuts them. */
export const SHUTDOWN_GRACE_MS = 10_000;

/**
 * Stops accepting connections, waits until the HTTP requests in flight have answered (at most
 * `graceMs`), then closes what is left: WebSockets with 1001, idle keep-alive connections and any
 * request still running. Cutting requests at once reset them (ECONNRESET) although on PostgreSQL
 * their transactions went on to commit.
 */
async function stopGracefully(server: Server<SocketData>, graceMs: number): Promise<void> {
  void server.stop(false);
  const deadline = Date.now() + graceMs;
  // Bun has no event for "no request pending"; the count is cheap to poll while stopping.
  while (server.pendingRequests > 0 && Date.now() < deadline) await Bun.sleep(10);
  await server.stop(true);
}

/** 405 for a method other than GET (or HEAD) on a read-only document; null when allowed. */
function readOnly(req: Request): Response | null {
  return req.method === "GET" || req.method === "HEAD" ? null : errorResponse(405, "Method not allowed", { allow: "GET" });
}

/**
 * The request's URL; null when its Host header makes none (400, RFC 9112 §3.2). Bun hands over a
 * bare path when the Host is missing or unusable: without one (HTTP/1.0, some health probes) the
 * path is read against this listener's own address.
 */
function parseRequestUrl(req: Request, self: string): URL | null {
  try {
    if (!req.url.startsWith("/")) return new URL(req.url);
    return req.headers.has("host") ? null : new URL(req.url, self);
  } catch {
    return null;
  }
}

/** Request ids for logs: a random per-process prefix and a counter (16 hex characters; no entropy per request needed). */
const REQUEST_ID_PREFIX = randomBytes(4).toString("hex");
let requestSeq = 0;

function requestIdOf(req: Request): string {
  const given = req.headers.get("x-request-id");
  if (given && /^[\w-]{1,64}$/.test(given)) return given;
  requestSeq = (requestSeq + 1) % 0x100000000;
  return REQUEST_ID_PREFIX + requestSeq.toString(16).padStart(8, "0");
}
