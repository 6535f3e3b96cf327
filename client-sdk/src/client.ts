/**
 * createParleyClient: the typed tRPC client over HTTP (`${url}/trpc`, batched, no transformer, so
 * the JSON is the REST JSON). The access token is read before every request; when the server
 * answers 401 and a `refresh` callback was given, the client refreshes once (concurrent 401s share
 * one refresh) and repeats that call once with the new token. A 401 to a call that started before
 * the last refresh finished is repeated with the new token without refreshing again: each refresh
 * rotates the session, and counts against the server's refresh limit.
 */
import { createTRPCClient, httpBatchLink, TRPCClientError, type TRPCClient, type TRPCLink } from "@trpc/client";
import { observable } from "@trpc/server/observable";
import type { AppRouter } from "./app-router";

/** A token, or a function answering the current one (null or undefined: no Authorization header). */
export type TokenSource = string | null | undefined | (() => string | null | undefined | Promise<string | null | undefined>);

export interface ParleyClientOptions {
  /** Server origin, e.g. `http://127.0.0.1:3000` (the client calls `${url}/trpc`). */
  url: string;
  token?: TokenSource;
  /**
   * Called once after a 401 to get a fresh access token (e.g. through `auth.refresh`). Its answer
   * is used from then on when `token` was a plain string; a `token` function is asked again.
   * Answer null to give up: the 401 then reaches the caller.
   */
  refresh?: () => Promise<string | null | undefined>;
  /** Extra headers for every request. */
  headers?: Record<string, string>;
  /** A fetch implementation (defaults to the global one). */
  fetch?: typeof fetch;
  /** Calls per HTTP batch at most (the server accepts 20). */
  maxItems?: number;
  /**
   * Longest URL a batch of queries may build (default 8,000 characters): longer batches are split.
   * The server refuses request heads over about 16 KB with an empty 431 that no client can read.
   */
  maxURLLength?: number;
}

export type ParleyClient = TRPCClient<AppRouter>;

/** True when a tRPC client error is the server's 401. */
export function isUnauthorized(err: unknown): boolean {
  if (!(err instanceof TRPCClientError)) return false;
  const data: unknown = err.data;
  if (typeof data === "object" && data !== null && "httpStatus" in data && data.httpStatus === 401) return true;
  const shape: unknown = err.shape;
  return typeof shape === "object" && shape !== null && "code" in shape && shape.code === -32001;
}

async function resolveToken(source: TokenSource): Promise<string | null | undefined> {
  return typeof source === "function" ? await source() : source;
}

export function createParleyClient(opts: ParleyClientOptions): ParleyClient {
  let token: TokenSource = opts.token;
  let refreshing: Promise<string | null | undefined> | null = null;
  /** Refreshes that produced a token so far: a call that started under an older one just retries. */
  let refreshes = 0;
  const base = opts.url.replace(/\/+$/, "");

  /** One refresh at a time; every 401 that arrives while it runs waits for the same answer. */
  const refreshOnce = (): Promise<string | null | undefined> => {
    const refresh = opts.refresh;
    if (!refresh) return Promise.resolve(null);
    refreshing ??= refresh()
      .then((fresh) => {
        if (fresh && typeof token !== "function") token = fresh;
        if (fresh) refreshes += 1;
        return fresh;
      })
      .finally(() => {
        refreshing = null;
      });
    return refreshing;
  };

  const refreshLink: TRPCLink<AppRouter> =
    () =>
    ({ op, next }) =>
      observable((observer) => {
        const startedUnder = refreshes;
        let inner = next(op).subscribe({
          next: (value) => observer.next(value),
          complete: () => observer.complete(),
          error: (err) => {
            if (!opts.refresh || !isUnauthorized(err) || isSignIn(op.path)) return observer.error(err);
            const fresher = refreshes !== startedUnder ? Promise.resolve(true) : refreshOnce();
            fresher.then(
              (fresh) => {
                if (!fresh) return observer.error(err);
                inner = next({ ...op, context: { ...op.context, parleyRetried: true } }).subscribe(observer);
              },
              () => observer.error(err),
            );
          },
        });
        return () => inner.unsubscribe();
      });

  return createTRPCClient<AppRouter>({
    links: [
      refreshLink,
      httpBatchLink({
        url: `${base}/trpc`,
        maxItems: opts.maxItems ?? 20,
        maxURLLength: opts.maxURLLength ?? 8000,
        fetch: opts.fetch,
        async headers() {
          const current = await resolveToken(token);
          return { ...(opts.headers ?? {}), ...(current ? { authorization: `Bearer ${current}` } : {}) };
        },
      }),
    ],
  });
}

/** Procedures whose 401 is about the credentials given, not the session: never a reason to refresh. */
const SIGN_IN_PATHS = new Set(["auth.login", "auth.refresh", "auth.register"]);
const isSignIn = (path: string) => SIGN_IN_PATHS.has(path);
