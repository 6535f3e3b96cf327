/** Response helpers shared by the REST bridge and the plain HTTP routes. */
import { AppError } from "../errors";

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, ...headers } });
}

/** A 204 has no body and no content type (PITFALLS). */
export const noContent = () => new Response(null, { status: 204 });

export function errorResponse(status: number, detail: unknown, headers: Record<string, string> = {}): Response {
  const extra: Record<string, string> = { ...headers };
  if (status === 401) extra["www-authenticate"] = "Bearer";
  return json({ detail }, status, extra);
}

export function appErrorResponse(err: AppError): Response {
  const headers: Record<string, string> = {};
  if (err.retryAfter !== undefined) headers["retry-after"] = String(err.retryAfter);
  return errorResponse(err.status, err.message, headers);
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

/** The body's text; throws on bytes that are not UTF-8 (REST and tRPC answer 400). */
export const decodeUtf8Strict = (bytes: Uint8Array): string => STRICT_UTF8.decode(bytes);

/**
 * Reads at most `limit` bytes of the body; answers null when it is larger (413), without
 * buffering more than the limit (Bun's own 413 has an empty body, so ours must come first).
 */
export async function readBodyCapped(req: Request, limit: number): Promise<Uint8Array | null> {
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) return null;
  if (!req.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of req.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > limit) return null;
    chunks.push(chunk);
  }
  if (chunks.length === 1 && chunks[0]) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}
