/**
 * /trpc: single calls take a short path, everything else goes through tRPC's fetch adapter.
 *
 * The adapter builds, per request, a second URL, a content-type handler with memoised inputs, two
 * AbortControllers, two Headers and several option copies before it calls the procedure; for a
 * cheap authenticated query that was a third of the server's CPU. The short path calls the
 * procedure itself (same middlewares, validation and error formatter) and builds the answer with
 * tRPC's own helpers, so the bytes, status and headers are the adapter's
 * (test/foundation/trpc-fast-path.test.ts compares the two for successes and errors).
 *
 * Invariants:
 * - The short path takes only what it can answer exactly like the adapter: a GET query or a POST
 *   mutation, not batched, no streaming `accept`, no connectionParams, a JSON (or, for GET, absent)
 *   content type, a procedure that exists, and input that is absent or valid JSON. Anything else,
 *   errors included, is the adapter's to answer (a POST body already read is handed on).
 * - A procedure runs at most once per request: the hand-over happens before it is called.
 */
import { TRPCError } from "@trpc/server";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import {
  defaultTransformer,
  getAcceptHeader,
  getErrorShape,
  getHTTPStatusCode,
  getTRPCErrorFromUnknown,
  isAsyncIterable,
  isObject,
  isPromise,
  transformTRPCResponse,
  urlPathToProcedurePath,
} from "@trpc/server/unstable-core-do-not-import";
import type { Context } from "../context";
import { AppError } from "../errors";
import type { AppRouter } from "../routers/_app";
import { appErrorAsTrpc } from "../trpc";
import { callProcedure, type DirectlyCallable } from "./call-procedure";

export const TRPC_ENDPOINT = "/trpc";
const PREFIX = `${TRPC_ENDPOINT}/`;

export interface TrpcHandlerOptions {
  maxBatchSize: number;
  /** False: every call goes through the adapter (the reference the short path is tested against). */
  fastPath?: boolean;
}

type MakeContext = () => Promise<Context>;
/**
 * `body`: the request body already read (and size-checked) by the caller; the request's own stream
 * is then consumed, so the adapter gets a copy carrying it.
 */
type TrpcHandler = (req: Request, url: URL, makeCtx: MakeContext, body?: string) => Promise<Response>;

export interface TrpcEndpoint extends TrpcHandler {
  /** Whether the short path takes this request (it may still hand it over for input that is not JSON). */
  handlesDirectly(req: Request, url: URL): boolean;
  /**
   * A refusal made before tRPC reads the request (body too large or not UTF-8, a method tRPC does
   * not serve), in tRPC's error envelope: the typed client reads its code, a `{detail}` body it
   * cannot read at all.
   */
  refuse(error: TRPCError, headers?: Record<string, string>): Response;
}

interface CallableProcedure extends DirectlyCallable {
  _def: DirectlyCallable["_def"] & { type: "query" | "mutation" | "subscription" };
}

/** Headers every tRPC answer carries for its errors: Retry-After from an AppError, and the 401 challenge. */
function appendErrorHeaders(headers: Headers, errors: readonly TRPCError[]): void {
  const retry = errors.map((e) => (e.cause instanceof AppError ? e.cause.retryAfter : undefined)).find((r) => r !== undefined);
  if (retry !== undefined) headers.append("retry-after", String(retry));
  if (errors.some((e) => e.code === "UNAUTHORIZED")) headers.append("www-authenticate", "Bearer");
}

/** A context that cannot be built (database down) answers its AppError's status (503), not 500. */
const contextOrTrpcError = (makeCtx: MakeContext) => () =>
  makeCtx().catch((err: unknown) => Promise.reject(err instanceof AppError ? appErrorAsTrpc(err) : err));

export function createTrpcHandler(router: AppRouter, opts: TrpcHandlerOptions): TrpcEndpoint {
  const config = router._def._config;
  // Without a data transformer, serialising an answer is the identity: skip its copies.
  const serialize = config.transformer === defaultTransformer ? <T>(json: T) => json : <T>(json: T) => transformTRPCResponse(config, json as never) as T;
  // Flat at run time ("auth.me"), whatever its static type says (the REST bridge reads it the same way).
  const procedures = router._def.procedures as unknown as Record<string, CallableProcedure | undefined>;

  const viaAdapter: TrpcHandler = (req, _url, makeCtx, body) =>
    fetchRequestHandler({
      endpoint: TRPC_ENDPOINT,
      req: body === undefined ? req : new Request(req.url, { method: req.method, headers: req.headers, body }),
      router,
      createContext: contextOrTrpcError(makeCtx),
      maxBatchSize: opts.maxBatchSize,
      responseMeta({ errors }) {
        const headers = new Headers();
        appendErrorHeaders(headers, errors);
        return { headers };
      },
    });
  const refuse = (error: TRPCError, headers: Record<string, string> = {}): Response => {
    const shape = { error: getErrorShape({ config, ctx: undefined, error, input: undefined, path: undefined, type: "unknown" }) };
    const all = answerHeaders();
    for (const [k, v] of Object.entries(headers)) all.set(k, v);
    return new Response(JSON.stringify(transformTRPCResponse(config, shape)), { status: getHTTPStatusCode([shape], [error]), headers: all });
  };
  if (opts.fastPath === false) return Object.assign(viaAdapter, { handlesDirectly: () => false, refuse });

  /** The procedure a single call names, when the short path can answer it; null otherwise. */
  function singleCall(req: Request, url: URL): { path: string; proc: CallableProcedure } | null {
    const method = req.method;
    if (method !== "GET" && method !== "POST") return null;
    if (!url.pathname.startsWith(PREFIX) || url.search.includes("batch=") || url.searchParams.has("connectionParams")) return null;
    if (getAcceptHeader(req.headers) === "application/jsonl") return null;
    const contentType = req.headers.get("content-type");
    const isJson = contentType !== null && contentType.toLowerCase().split(";", 1)[0]?.trim() === "application/json";
    if (!isJson && (method === "POST" || contentType !== null)) return null;
    let path: string;
    try {
      path = urlPathToProcedurePath(decodeURIComponent(procedurePathOf(url.pathname)), config.pathSeparator);
    } catch {
      return null;
    }
    const proc = Object.hasOwn(procedures, path) ? procedures[path] : undefined;
    if (typeof proc !== "function") return null;
    const type = proc._def.type;
    if (!((type === "query" && method === "GET") || (type === "mutation" && method === "POST"))) return null;
    return { path, proc };
  }

  const handleTrpc: TrpcHandler = async (req, url, makeCtx, preRead) => {
    const call = singleCall(req, url);
    if (!call) return viaAdapter(req, url, makeCtx, preRead);
    let input: unknown;
    if (req.method === "GET") {
      const raw = url.searchParams.get("input");
      if (raw) {
        try {
          input = JSON.parse(raw);
        } catch {
          return viaAdapter(req, url, makeCtx, preRead);
        }
      }
    } else {
      const body = preRead ?? (await req.text());
      if (body) {
        try {
          input = JSON.parse(body);
        } catch {
          return viaAdapter(new Request(req.url, { method: req.method, headers: req.headers, body }), url, makeCtx);
        }
      }
    }
    if (input !== undefined) input = config.transformer.input.deserialize(input);
    return answer(req, call.path, call.proc, input, makeCtx);
  };
  return Object.assign(handleTrpc, { handlesDirectly: (req: Request, url: URL) => singleCall(req, url) !== null, refuse });

  async function answer(req: Request, path: string, proc: CallableProcedure, input: unknown, makeCtx: MakeContext): Promise<Response> {
    const type = proc._def.type;
    let ctx: Context | undefined;
    let inputRead = false;
    let data: unknown;
    let error: TRPCError | undefined;
    try {
      ctx = await contextOrTrpcError(makeCtx)();
    } catch (cause) {
      error = getTRPCErrorFromUnknown(cause);
    }
    if (!error) {
      try {
        data = await callProcedure(proc, {
          path,
          getRawInput: async () => {
            inputRead = true;
            return input;
          },
          ctx,
          type,
          signal: req.signal,
          batchIndex: 0,
        });
      } catch (cause) {
        error = getTRPCErrorFromUnknown(cause);
      }
    }
    if (error) return errorAnswer(answerHeaders(), error, { config, ctx, error, input: inputRead ? input : undefined, path, type });
    try {
      if (isDataStream(data))
        throw new TRPCError({ code: "UNSUPPORTED_MEDIA_TYPE", message: "Cannot use stream-like response in non-streaming request - use httpBatchStreamLink" });
      // A plain object: a success adds no header, and a Headers object was 2 % of a cheap call's CPU.
      return new Response(JSON.stringify(serialize({ result: { data } })), { status: 200, headers: SUCCESS_HEADERS });
    } catch (cause) {
      // The adapter's outer catch: the shape names neither path nor input.
      const late = getTRPCErrorFromUnknown(cause);
      return errorAnswer(answerHeaders(), late, { config, ctx, error: late, input: undefined, path: undefined, type });
    }
  }

  function errorAnswer(headers: Headers, error: TRPCError, shapeOpts: Parameters<typeof getErrorShape>[0]): Response {
    const shape = { error: getErrorShape(shapeOpts) };
    appendErrorHeaders(headers, [error]);
    return new Response(JSON.stringify(transformTRPCResponse(config, shape)), { status: getHTTPStatusCode([shape], [error]), headers });
  }
}

/** The headers of every answer, as the adapter writes them (errors append theirs). */
const SUCCESS_HEADERS = { vary: "trpc-accept, accept", "content-type": "application/json" };
const answerHeaders = () => new Headers(SUCCESS_HEADERS);

/** The adapter's procedure path: slashes trimmed around the pathname, the endpoint, then the rest. */
function procedurePathOf(pathname: string): string {
  return trimSlashes(trimSlashes(pathname).slice(TRPC_ENDPOINT.length - 1));
}

function trimSlashes(path: string): string {
  const start = path.startsWith("/") ? 1 : 0;
  const end = path.endsWith("/") ? -1 : undefined;
  return path.slice(start, end);
}

/** The adapter's refusal of promises and iterables in a non-streamed answer. */
function isDataStream(v: unknown): boolean {
  if (!isObject(v)) return false;
  if (isAsyncIterable(v)) return true;
  return Object.values(v).some((x) => isPromise(x) || isAsyncIterable(x));
}
