/**
 * CORS for browser front-ends on another origin (a Vite dev server, app.example.com) calling
 * /api/v1, /trpc and /files.
 *
 * - Only requests that carry `Origin` are touched: the server reads that one header and does
 *   nothing else for the rest (tools, mobile clients, the benchmark).
 * - Authentication is a bearer token, never a cookie, so no `Access-Control-Allow-Credentials`:
 *   a foreign page cannot borrow a session here, CORS only decides which pages may read answers.
 * - A preflight from an origin not on the list answers 403 `{detail}` without allow headers (the
 *   browser refuses the call either way; the status says why to whoever looks at the network tab),
 *   as the /ws upgrade does for `WS_ALLOWED_ORIGINS`.
 * - `Vary: Origin` goes on every touched answer, `*` included: whether CORS headers are present
 *   depends on the request's Origin, and a cache must not hand one origin's answer to another.
 */
import { errorResponse } from "./respond";

/** What each prefix serves (the preflight's Allow-Methods); /ws checks origins itself. */
const CORS_PATHS: readonly { prefix: string; methods: string }[] = [
  { prefix: "/api/v1", methods: "GET, HEAD, POST, PUT, PATCH, DELETE" },
  { prefix: "/trpc", methods: "GET, HEAD, POST" },
  { prefix: "/files", methods: "GET, HEAD, PUT" },
];

/**
 * Request headers the server reads beyond the CORS-safelisted ones: the bearer token, a JSON (or
 * the upload's) content type, a caller's request id for logs, tRPC's streaming accept.
 */
const ALLOW_HEADERS = "authorization, content-type, x-request-id, trpc-accept";
/** Response headers a script may read: rate-limit wait, the 401 challenge, an upload's ETag. */
const EXPOSE_HEADERS = "retry-after, www-authenticate, etag";
/** Seconds a browser may reuse a preflight (Chromium caps at 7200, Firefox at 86400). */
const MAX_AGE = "600";

export interface Cors {
  /** The answer to a preflight (OPTIONS + Access-Control-Request-Method) on a CORS path; null otherwise. */
  preflight(req: Request, path: string, origin: string): Response | null;
  /** The answer with CORS headers when the path is a CORS path (allow headers only for an allowed origin). */
  decorate(res: Response, path: string, origin: string): Response;
}

/** `allowed`: normalised origins as the config holds them, or `["*"]`. */
export function createCors(allowed: readonly string[]): Cors {
  const any = allowed.includes("*");
  const origins = new Set(allowed);
  const allowOrigin = (origin: string): string | null => (any ? "*" : origins.has(origin) ? origin : null);

  return {
    preflight(req, path, origin) {
      if (req.method !== "OPTIONS" || !req.headers.has("access-control-request-method")) return null;
      const methods = methodsFor(path);
      if (methods === null) return null;
      const value = allowOrigin(origin);
      if (value === null) return errorResponse(403, "Origin not allowed", { vary: "Origin" });
      return new Response(null, {
        status: 204,
        headers: {
          "access-control-allow-origin": value,
          "access-control-allow-methods": methods,
          "access-control-allow-headers": ALLOW_HEADERS,
          "access-control-max-age": MAX_AGE,
          vary: "Origin",
        },
      });
    },
    decorate(res, path, origin) {
      if (methodsFor(path) === null) return res;
      const value = allowOrigin(origin);
      return withHeaders(res, (h) => {
        h.append("vary", "Origin");
        if (value === null) return;
        h.set("access-control-allow-origin", value);
        h.set("access-control-expose-headers", EXPOSE_HEADERS);
      });
    },
  };
}

function methodsFor(path: string): string | null {
  for (const p of CORS_PATHS) if (path === p.prefix || (path.startsWith(p.prefix) && path[p.prefix.length] === "/")) return p.methods;
  return null;
}

/**
 * Sets headers on the answer itself; a Response whose headers are immutable (the fetch spec's
 * guard, e.g. one that came from `fetch`) is copied first. Bun's are mutable today.
 */
function withHeaders(res: Response, set: (h: Headers) => void): Response {
  try {
    set(res.headers);
    return res;
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    const copy = new Response(res.body, { status: res.status, statusText: res.statusText, headers: new Headers(res.headers) });
    set(copy.headers);
    return copy;
  }
}
