/**
 * REST at /api/v1 without trpc-to-openapi's slow fetch handler (PITFALLS): the `meta.openapi` of
 * every procedure is compiled once into a route table, and a request calls its procedure the way a
 * tRPC caller does (without building the caller's proxy per request), so REST and tRPC run the same
 * input/output validation and middleware.
 *
 * Invariants:
 * - Static segments beat `{param}` segments whatever the definition order and the method
 *   (`/messages/search` never reaches `/messages/{chat_id}`, not even as `DELETE`, which answers
 *   405): a word that some route has as a static segment at that position, after a compatible
 *   prefix, is never a parameter's value there (ids are numbers and tokens, never such words).
 * - A path that exists with another method answers 405 with `Allow`; no match at all, 404.
 * - Query and path values arrive as strings and are coerced to the number/boolean their zod
 *   field expects; anything that does not look like one is passed on for zod to reject (422).
 * - Every error is `{"detail": string}`; a 204 has no body.
 */
import { TRPCError } from "@trpc/server";
import { ZodError } from "zod";
import type { Context } from "../context";
import { AppError, statusForTrpcCode } from "../errors";
import { formatZodError } from "../lib/zod-errors";
import type { Meta } from "../trpc";
import { callProcedure, type DirectlyCallable } from "./call-procedure";
import { decodeUtf8Strict, errorResponse, json, noContent, readBodyCapped } from "./respond";

type Coercion = "integer" | "number" | "boolean" | "string" | "other";

interface Route {
  method: string;
  segments: (string | { param: string })[];
  procedurePath: string;
  status: number;
  coercions: Record<string, Coercion>;
  /** Per segment position of a `{param}`: the static words other routes have there (see the invariants). */
  shadowed: Map<number, Set<string>>;
  call: (ctx: Context, input: unknown) => Promise<unknown>;
}

export interface RestBridge {
  handle(req: Request, url: URL, ctx: () => Promise<Context>): Promise<Response>;
  routes: readonly Route[];
}

interface ProcedureLike extends DirectlyCallable {
  _def: DirectlyCallable["_def"] & { meta?: Meta; inputs: unknown[]; type: string };
}

export function createRestBridge(procedures: Record<string, unknown>, opts: { prefix: string; maxBodyBytes: number }): RestBridge {
  const routes: Route[] = [];
  for (const [path, value] of Object.entries(procedures)) {
    const proc = value as ProcedureLike;
    const openapi = proc._def.meta?.openapi;
    if (!openapi || openapi.enabled === false) continue;
    routes.push({
      method: openapi.method,
      segments: openapi.path
        .split("/")
        .filter(Boolean)
        .map((s) => (s.startsWith("{") && s.endsWith("}") ? { param: s.slice(1, -1) } : s)),
      procedurePath: path,
      status: proc._def.meta?.status ?? 200,
      coercions: coercionsOf(proc._def.inputs[0]),
      shadowed: new Map(),
      // What `createCaller(ctx)[path](input)` runs, minus the proxy it builds per call.
      call: (ctx, input) => callProcedure(proc, { path, getRawInput: async () => input, ctx, type: proc._def.type, signal: undefined, batchIndex: 0 }),
    });
  }
  // Static before parameter at the first segment where two routes differ.
  routes.sort((a, b) => {
    const n = Math.min(a.segments.length, b.segments.length);
    for (let i = 0; i < n; i++) {
      const sa = typeof a.segments[i] === "string" ? 0 : 1;
      const sb = typeof b.segments[i] === "string" ? 0 : 1;
      if (sa !== sb) return sa - sb;
    }
    return 0;
  });

  for (const route of routes) shadowStaticWords(route, routes);

  const byLength = new Map<number, Route[]>();
  for (const r of routes) {
    const list = byLength.get(r.segments.length) ?? [];
    list.push(r);
    byLength.set(r.segments.length, list);
  }

  function match(method: string, parts: string[]): { route?: Route; params?: Record<string, string>; allowed: string[] } {
    const allowed: string[] = [];
    for (const route of byLength.get(parts.length) ?? []) {
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length; i++) {
        const seg = route.segments[i];
        const part = parts[i] ?? "";
        if (typeof seg === "string") {
          if (seg !== part) {
            ok = false;
            break;
          }
        } else if (seg) {
          if (route.shadowed.get(i)?.has(part)) {
            ok = false;
            break;
          }
          params[seg.param] = part;
        }
      }
      if (!ok) continue;
      if (route.method === method) return { route, params, allowed };
      if (!allowed.includes(route.method)) allowed.push(route.method);
    }
    return { allowed };
  }

  async function handle(req: Request, url: URL, makeCtx: () => Promise<Context>): Promise<Response> {
    const rest = url.pathname.slice(opts.prefix.length);
    let parts: string[];
    try {
      parts = rest.split("/").filter(Boolean).map(decodeURIComponent);
    } catch {
      return errorResponse(404, "Not found");
    }
    const method = req.method === "HEAD" ? "GET" : req.method;
    const found = match(method, parts);
    if (!found.route) {
      if (found.allowed.length) return errorResponse(405, "Method not allowed", { allow: found.allowed.join(", ") });
      return errorResponse(404, "Not found");
    }
    const route = found.route;

    let body: unknown;
    const raw = await readBodyCapped(req, opts.maxBodyBytes);
    if (raw === null) return errorResponse(413, `Request body exceeds ${opts.maxBodyBytes} bytes`);
    if (raw.byteLength > 0) {
      const type = req.headers.get("content-type") ?? "";
      if (!/^application\/(.+\+)?json\b/i.test(type)) return errorResponse(415, "Content-Type must be application/json");
      try {
        body = JSON.parse(decodeUtf8Strict(raw));
      } catch {
        return errorResponse(400, "Malformed JSON body");
      }
    }

    let input: unknown;
    const fromUrl: Record<string, unknown> = {};
    // Body methods take their input from the body and the path only, as the OpenAPI document
    // declares them (trpc-to-openapi's rule); a query string there once overrode body fields.
    if (method === "GET" || method === "DELETE") for (const [k, v] of url.searchParams) fromUrl[k] = coerce(v, route.coercions[k]);
    for (const [k, v] of Object.entries(found.params ?? {})) fromUrl[k] = coerce(v, route.coercions[k]);
    if (body === undefined) input = fromUrl;
    else if (body !== null && typeof body === "object" && !Array.isArray(body)) input = { ...(body as object), ...fromUrl };
    else if (Object.keys(fromUrl).length === 0) input = body;
    else return errorResponse(422, "body: must be a JSON object");

    let ctx: Context | undefined;
    try {
      ctx = await makeCtx();
      const output = await route.call(ctx, input);
      if (route.status === 204) return noContent();
      return json(output ?? null, route.status);
    } catch (err) {
      return restError(err);
    }
  }

  return { handle, routes };
}

export function restError(err: unknown): Response {
  if (err instanceof TRPCError) {
    const cause = err.cause;
    if (cause instanceof ZodError) return errorResponse(422, formatZodError(cause));
    if (cause instanceof AppError && cause.retryAfter !== undefined)
      return errorResponse(cause.status, cause.message, { "retry-after": String(cause.retryAfter) });
    // Statuses tRPC has no code for (410 Gone) come from the AppError itself.
    if (cause instanceof AppError) return errorResponse(cause.status, cause.message);
    return errorResponse(statusForTrpcCode(err.code), err.message);
  }
  if (err instanceof AppError) return errorResponse(err.status, err.message);
  return errorResponse(500, "Internal server error");
}

function coerce(value: string, kind: Coercion | undefined): unknown {
  // Canonical decimal only: `/chats/01` or `/chats/1.0` naming chat 1 would give one resource
  // many URLs (caches, logs and access rules that compare paths). Anything else stays a string
  // and is refused by the schema (422), like `abc`.
  if (kind === "integer") return /^-?(0|[1-9]\d*)$/.test(value) ? Number(value) : value;
  if (kind === "number") {
    if (/^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value);
    return value;
  }
  if (kind === "boolean") {
    if (value === "true" || value === "1") return true;
    if (value === "false" || value === "0") return false;
    return value;
  }
  return value;
}

/**
 * Fills `route.shadowed`: for each of its `{param}` positions, the static words that any route
 * (of any length and method) has at that position after segments compatible with this route's
 * (equal words, or a parameter on either side).
 */
function shadowStaticWords(route: Route, routes: readonly Route[]): void {
  route.segments.forEach((seg, i) => {
    if (typeof seg === "string") return;
    const words = new Set<string>();
    for (const other of routes) {
      const word = other.segments[i];
      if (typeof word !== "string") continue;
      const compatible = route.segments.slice(0, i).every((a, j) => {
        const b = other.segments[j];
        return typeof a !== "string" || typeof b !== "string" || a === b;
      });
      if (compatible) words.add(word);
    }
    if (words.size > 0) route.shadowed.set(i, words);
  });
}

/** Which query/path fields of an object input expect numbers or booleans. */
function coercionsOf(schema: unknown): Record<string, Coercion> {
  const out: Record<string, Coercion> = {};
  // Through `.optional()` / `.prefault({})` (inputs a tRPC caller may leave out) to the object.
  let inner = schema as { shape?: Record<string, unknown>; def?: { innerType?: unknown } } | undefined;
  while (inner && !inner.shape && inner.def?.innerType) inner = inner.def.innerType as typeof inner;
  const shape = inner?.shape;
  if (!shape) return out;
  for (const [key, field] of Object.entries(shape)) out[key] = kindOf(field);
  return out;
}

function kindOf(schema: unknown): Coercion {
  let current = schema as { _zod?: { def: { type: string; innerType?: unknown; in?: unknown } } } | undefined;
  for (let depth = 0; depth < 10 && current?._zod; depth++) {
    const def = current._zod.def;
    if (def.type === "number" && (current as { isInt?: boolean }).isInt) return "integer";
    if (def.type === "number" || def.type === "int" || def.type === "bigint") return "number";
    if (def.type === "boolean") return "boolean";
    if (def.type === "string") return "string";
    if (def.innerType) current = def.innerType as typeof current;
    else if (def.type === "pipe" && def.in) current = def.in as typeof current;
    else return "other";
  }
  return "other";
}
