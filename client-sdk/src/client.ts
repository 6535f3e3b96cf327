/**
 * createParleyClient: the typed tRPC client over HTTP (`${url}/trpc`, batched, no transformer, so
 * the JSON is the REST JSON). The access token is read before every request; when the server
 * answers 401 and a `refresh` callback was given, the client refreshes once (concurrent 401s share
 * one refresh) and repeats that call once with the new token.
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
  const base = opts.url.replace(/\/+$/, "");

  /** One refresh at a time; every 401 that arrives while it runs waits for the same answer. */
  const refreshOnce = (): Promise<string | null | undefined> => {
    const refresh = opts.refresh;
    if (!refresh) return Promise.resolve(null);
    refreshing ??= refresh()
      .then((fresh) => {
        if (fresh && typeof token !== "function") token = fresh;
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
        let inner = next(op).subscribe({
          next: (value) => observer.next(value),
          complete: () => observer.complete(),
          error: (err) => {
            if (!opts.refresh || !isUnauthorized(err)) return observer.error(err);
            refreshOnce().then(
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
        fetch: opts.fetch,
        async headers() {
          const current = await resolveToken(token);
          return { ...(opts.headers ?? {}), ...(current ? { authorization: `Bearer ${current}` } : {}) };
        },
      }),
    ],
  });
}
