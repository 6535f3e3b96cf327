/**
 * GET/HEAD/PUT /files/<object_key> for the local-disk storage driver. With S3 configured the
 * route does not exist (404). PUTs must present an unexpired signed URL and exactly the signed
 * Content-Type and size; errors are `{detail}` like everywhere else.
 */
import type { App } from "../app";
import { errorResponse } from "../http/respond";
import { LocalStorage, type UploadOutcome } from "./local-storage";
import { parseObjectKey } from "./object-key";

const PREFIX = "/files/";

export async function handleFiles(app: App, req: Request, url: URL): Promise<Response | null> {
  const storage = app.storage;
  if (!(storage instanceof LocalStorage)) return null;
  const parsed = parseObjectKey(url.pathname.slice(PREFIX.length));
  if (!parsed) return errorResponse(404, "File not found");
  if (req.method === "GET" || req.method === "HEAD") return serve(storage, parsed.key, parsed.contentType, req);
  if (req.method === "PUT") return upload(app, storage, parsed.key, req, url);
  return errorResponse(405, "Method not allowed", { allow: "GET, HEAD, PUT" });
}

async function serve(storage: LocalStorage, key: string, contentType: string, req: Request): Promise<Response> {
  const file = Bun.file(storage.pathOf(key));
  if (!(await file.exists())) return errorResponse(404, "File not found");
  // An object is written once (local-storage.ts), so its size and time name its bytes for good.
  const etag = `"${file.size.toString(36)}-${Math.floor(file.lastModified).toString(36)}"`;
  const lastModified = new Date(file.lastModified).toUTCString();
  const validators = { etag, "last-modified": lastModified, "cache-control": "public, max-age=31536000, immutable" };
  if (notModified(req, etag, file.lastModified)) return new Response(null, { status: 304, headers: validators });
  const headers = {
    ...validators,
    "content-type": contentType,
    "content-length": String(file.size),
    // Uploaded bytes are never interpreted as anything but their declared type, nor as a page.
    "x-content-type-options": "nosniff",
    "content-security-policy": "sandbox",
    "accept-ranges": "bytes",
  };
  return new Response(req.method === "HEAD" ? null : file, { headers });
}

/** RFC 9110 §13.1: If-None-Match decides when present, else If-Modified-Since (second precision). */
function notModified(req: Request, etag: string, modifiedMs: number): boolean {
  const ifNoneMatch = req.headers.get("if-none-match");
  if (ifNoneMatch !== null) return ifNoneMatch.trim() === "*" || ifNoneMatch.split(",").some((t) => t.trim().replace(/^W\//, "") === etag);
  const since = Date.parse(req.headers.get("if-modified-since") ?? "");
  return Number.isFinite(since) && Math.floor(modifiedMs / 1000) * 1000 <= since;
}

const EMPTY_BODY: AsyncIterable<Uint8Array> = { async *[Symbol.asyncIterator]() {} };

async function upload(app: App, storage: LocalStorage, key: string, req: Request, url: URL): Promise<Response> {
  const check = storage.checkGrant(key, url.searchParams);
  if (!check.ok) return errorResponse(check.status, check.detail);
  const { grant } = check;
  const sentType = (req.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (sentType !== grant.contentType) return errorResponse(403, `Content-Type must be ${grant.contentType}`);
  const limit = Math.min(grant.size, app.config.MAX_UPLOAD_SIZE_BYTES);
  const tooLarge = () => errorResponse(413, `Upload exceeds the signed size of ${grant.size} bytes`);
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) return tooLarge();
  let outcome: UploadOutcome | null;
  try {
    outcome = await storage.writeFrom(key, (req.body ?? EMPTY_BODY) as unknown as AsyncIterable<Uint8Array>, grant.size, limit);
  } catch (err) {
    // A client gone mid-body is not a storage failure: the server logs it as the client's doing.
    if (req.signal.aborted) throw err;
    app.log.error("local upload not written", { error: err instanceof Error ? err.message : String(err) });
    return errorResponse(503, "Storage is unavailable");
  }
  if (outcome === null) return tooLarge();
  if (outcome.state === "short") return errorResponse(403, `Content-Length must be ${grant.size}`);
  if (outcome.state === "taken") return errorResponse(409, "This object is already uploaded with other content: an upload URL writes its object once");
  return new Response(null, { status: 200, headers: { etag: `"${outcome.etag}"` } });
}
