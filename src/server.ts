/**
 * Bun.serve: one listener for /health*, /trpc, /api/v1 (REST bridge + OpenAPI), /docs, /ws,
 * /files (local storage) and /app. Every request gets one structured log line.
 */
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import type { Server } from "bun";
import { randomBytes } from "node:crypto";
import type { App } from "./app";
import { createContext, unavailableAs503, type Context } from "./context";
import { AppError } from "./errors";
import { handleHealth } from "./http/health";
import { DOCS_HTML, openApiDocument } from "./http/openapi";
import { errorResponse, json } from "./http/respond";
import { createRestBridge } from "./http/rest-bridge";
import { handleFiles } from "./media/files-route";
import { createGateway, type SocketData } from "./realtime/gateway";
import { appRouter, createCaller } from "./routers/_app";
import { appErrorAsTrpc } from "./trpc";
import { handleWebApp } from "./web/app-route";

export const API_PREFIX = "/api/v1";
/** Calls in one tRPC batch at most (each still counts against rate limits). */
export const MAX_TRPC_BATCH = 20;

export interface RunningServer {
  server: Server<SocketData>;
  url: string;
  stop(): Promise<void>;
}

export async function startServer(app: App, opts: { port?: number; hostname?: string } = {}): Promise<RunningServer> {
  const bridge = createRestBridge(appRouter._def.procedures, createCaller as never, {
    prefix: API_PREFIX,
    maxBodyBytes: app.config.MAX_BODY_BYTES,
  });
  const gateway = createGateway(app);
  const bodyLimit = Math.max(app.config.MAX_BODY_BYTES, app.config.MAX_UPLOAD_SIZE_BYTES) + 1024 * 1024;

  async function route(req: Request, url: URL, server: Server<SocketData>, seen: { ctx?: Context }): Promise<Response | undefined> {
    const path = url.pathname;
    const makeCtx = async () => {
      seen.ctx = await createContext(app, { req, remoteAddress: server.requestIP(req)?.address ?? null, requestId: requestIdOf(req) });
      return seen.ctx;
    };
    if (path.startsWith("/health")) {
      const r = await handleHealth(app, path);
      if (r) return r;
    }
    if (path.startsWith(`${API_PREFIX}/`) || path === API_PREFIX) {
      if (path === `${API_PREFIX}/openapi.json`) return json(openApiDocument());
      return bridge.handle(req, url, makeCtx);
    }
    if (path.startsWith("/trpc")) return handleTrpc(req, makeCtx);
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

  async function handleTrpc(req: Request, makeCtx: () => Promise<Context>): Promise<Response> {
    const declared = Number(req.headers.get("content-length") ?? "0");
    if (declared > app.config.MAX_BODY_BYTES) return errorResponse(413, `Request body exceeds ${app.config.MAX_BODY_BYTES} bytes`);
    return fetchRequestHandler({
      endpoint: "/trpc",
      req,
      router: appRouter,
      // A context that cannot be built (database down) answers its AppError's status (503), not 500.
      createContext: () => makeCtx().catch((err: unknown) => Promise.reject(err instanceof AppError ? appErrorAsTrpc(err) : err)),
      maxBatchSize: MAX_TRPC_BATCH,
      responseMeta({ errors }) {
        const retry = errors.map((e) => (e.cause instanceof AppError ? e.cause.retryAfter : undefined)).find((r) => r !== undefined);
        const headers = new Headers();
        if (retry !== undefined) headers.set("retry-after", String(retry));
        if (errors.some((e) => e.code === "UNAUTHORIZED")) headers.set("www-authenticate", "Bearer");
        return { headers };
      },
    });
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

function requestIdOf(req: Request): string {
  const given = req.headers.get("x-request-id");
  return given && /^[\w-]{1,64}$/.test(given) ? given : randomBytes(8).toString("hex");
}
