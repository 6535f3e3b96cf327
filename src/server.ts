/**
 * Bun.serve: one listener for /health*, /trpc, /api/v1 (REST bridge + OpenAPI), /docs, /ws,
 * /files (local storage) and /app. Every request gets one structured log line.
 */
import type { Server } from "bun";
import { randomBytes } from "node:crypto";
import type { App } from "./app";
import { createContext, unavailableAs503, type Context } from "./context";
import { AppError } from "./errors";
import { handleHealth } from "./http/health";
import { DOCS_HTML, openApiDocument } from "./http/openapi";
import { errorResponse, json } from "./http/respond";
import { createRestBridge } from "./http/rest-bridge";
import { createTrpcHandler } from "./http/trpc-handler";
import { handleFiles } from "./media/files-route";
import { createGateway, type SocketData } from "./realtime/gateway";
import { appRouter } from "./routers/_app";
import { handleWebApp } from "./web/app-route";

export const API_PREFIX = "/api/v1";
/** Calls in one tRPC batch at most (each still counts against rate limits). */
export const MAX_TRPC_BATCH = 20;

export interface RunningServer {
  server: Server<SocketData>;
  url: string;
  stop(): Promise<void>;
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
      if (path === `${API_PREFIX}/openapi.json`) return json(openApiDocument());
      return bridge.handle(req, url, makeCtx);
    }
    if (path.startsWith("/trpc")) return handleTrpc(req, url, makeCtx);
    if (path === "/ws") return gateway.upgrade(req, url, server);
    if (path === "/docs") return new Response(DOCS_HTML, { headers: { "content-type": "text/html; charset=utf-8" } });
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

  async function handleTrpc(req: Request, url: URL, makeCtx: () => Promise<Context>): Promise<Response> {
    const declared = Number(req.headers.get("content-length") ?? "0");
    if (declared > app.config.MAX_BODY_BYTES) return errorResponse(413, `Request body exceeds ${app.config.MAX_BODY_BYTES} bytes`);
    return trpc(req, url, makeCtx);
  }

  const server = Bun.serve<SocketData>({
    port: opts.port ?? app.config.PORT,
    hostname: opts.hostname ?? app.config.HOST,
    maxRequestBodySize: bodyLimit,
    websocket: gateway.websocket,
    async fetch(req, srv) {
      const started = performance.now();
      const url = new URL(req.url);
      const seen: { ctx?: Context } = {};
      let res: Response | undefined;
      try {
        // Routes outside the procedures (the /ws upgrade checks its token in the database) answer
        // 503 while a backing service is down, like procedures do.
        res = await route(req, url, srv, seen).catch(unavailableAs503);
      } catch (err) {
        if (err instanceof AppError) res = errorResponse(err.status, err.message);
        else {
          app.log.error("request failed", { path: url.pathname, error: err instanceof Error ? err.message : String(err) });
          res = errorResponse(500, "Internal server error");
        }
      }
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
  const url = `http://${server.hostname}:${server.port}`;
  // The local storage driver's file URLs point at this listener (its port is known only now).
  app.storage.bindServerUrl(url);
  return {
    server,
    url,
    stop: async () => {
      await server.stop(true);
    },
  };
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
