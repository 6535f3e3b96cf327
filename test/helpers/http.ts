/** A small fetch wrapper for REST tests: JSON in, parsed JSON out, status and headers kept. */
export interface ApiResponse<T = any> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

export interface ApiOptions {
  token?: string;
  body?: unknown;
  /** Raw body sent as-is (for malformed JSON tests). */
  raw?: string | Uint8Array;
  headers?: Record<string, string>;
  /** Gives up (throws) after this long; a hung request otherwise holds the test until its timeout. */
  timeoutMs?: number;
}

export async function api<T = any>(base: string, method: string, path: string, opts: ApiOptions = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: BodyInit | undefined;
  if (opts.raw !== undefined) {
    body = opts.raw as BodyInit;
    headers["content-type"] ??= "application/json";
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  }
  const url = path.startsWith("http") ? path : `${base}${path.startsWith("/api") || path.startsWith("/health") || path.startsWith("/trpc") ? path : `/api/v1${path}`}`;
  const res = await fetch(url, { method, headers, body, ...(opts.timeoutMs ? { signal: AbortSignal.timeout(opts.timeoutMs) } : {}) });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed as T, text, headers: res.headers };
}

/** Binds `api` to one server. */
export const client = (base: string) => ({
  get: <T = any>(path: string, o?: ApiOptions) => api<T>(base, "GET", path, o),
  post: <T = any>(path: string, o?: ApiOptions) => api<T>(base, "POST", path, o),
  put: <T = any>(path: string, o?: ApiOptions) => api<T>(base, "PUT", path, o),
  patch: <T = any>(path: string, o?: ApiOptions) => api<T>(base, "PATCH", path, o),
  delete: <T = any>(path: string, o?: ApiOptions) => api<T>(base, "DELETE", path, o),
});
