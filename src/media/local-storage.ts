/**
 * The embedded default (no S3_* set): objects live on disk under DATA_DIR/uploads and our own
 * /files route takes the PUTs and serves the GETs. Upload URLs carry the content type, size and
 * expiry they were issued for plus an HMAC over all of them and the key, so the files route can
 * refuse any other upload without keeping state. GETs are public, like a public bucket.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { access, constants, link, mkdir, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Config } from "../env";
import { parseObjectKey } from "./object-key";
import type { PresignedPut, Storage, StoredObject } from "./storage";
import { StorageUnavailableError } from "./storage-error";

export interface UploadGrant {
  contentType: string;
  size: number;
}

export type GrantCheck = { ok: true; grant: UploadGrant } | { ok: false; status: 403; detail: string };

/** How an upload ended: its object written now, already there with the same bytes, or with others. */
export interface UploadOutcome {
  state: "written" | "unchanged" | "taken" | "short";
  size: number;
  /** MD5 of the bytes sent, hex (the answer's ETag, as S3 gives one). */
  etag: string;
}

/** Bytes written to disk per step, and compared per step. */
const WRITE_CHUNK = 1024 * 1024;

/** True when both files hold the same bytes (read a chunk at a time). */
async function sameBytes(a: string, b: string): Promise<boolean> {
  const [fa, fb] = [Bun.file(a), Bun.file(b)];
  if (fa.size !== fb.size) return false;
  for (let at = 0; at < fa.size; at += WRITE_CHUNK) {
    const [x, y] = await Promise.all([fa.slice(at, at + WRITE_CHUNK).bytes(), fb.slice(at, at + WRITE_CHUNK).bytes()]);
    if (!Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(y)) return false;
  }
  return true;
}

export class LocalStorage implements Storage {
  readonly kind = "local" as const;
  private readonly dataDir: string;
  private readonly configuredBase: string | undefined;
  private boundBase: string;
  private readonly jwtSecret: string | undefined;
  private key: Buffer | undefined;

  constructor(config: Config) {
    this.dataDir = config.DATA_DIR;
    this.configuredBase = config.publicFileBase;
    this.boundBase = `http://${config.HOST}:${config.PORT}/files`;
    this.jwtSecret = config.JWT_SECRET;
  }

  /** S3_PUBLIC_URL when set (a proxy in front of /files), else the listener's own /files. */
  get publicBase(): string {
    return this.configuredBase ?? this.boundBase;
  }

  bindServerUrl(url: string): void {
    this.boundBase = `${url.replace(/\/+$/, "")}/files`;
  }

  /** Absolute path of a key; only keys that passed parseObjectKey ever get here. */
  pathOf(objectKey: string): string {
    if (!parseObjectKey(objectKey)) throw new Error("invalid object key");
    return join(this.dataDir, objectKey);
  }

  async presignPut(objectKey: string, contentType: string, size: number, expiresIn: number): Promise<PresignedPut> {
    const expires = Math.floor(Date.now() / 1000) + expiresIn;
    const query = new URLSearchParams({
      content_type: contentType,
      size: String(size),
      expires: String(expires),
      signature: this.sign(objectKey, contentType, size, expires),
    });
    return {
      url: `${this.publicBase}/${objectKey}?${query}`,
      headers: { "Content-Type": contentType, "Content-Length": String(size) },
    };
  }

  /** Checks an upload URL's query against its signature and expiry. */
  checkGrant(objectKey: string, query: URLSearchParams, now = Date.now()): GrantCheck {
    const contentType = query.get("content_type");
    const size = Number(query.get("size"));
    const expires = Number(query.get("expires"));
    const signature = query.get("signature");
    if (!contentType || !signature || !Number.isSafeInteger(size) || !Number.isSafeInteger(expires))
      return { ok: false, status: 403, detail: "Upload URL is not signed" };
    const expected = Buffer.from(this.sign(objectKey, contentType, size, expires));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      return { ok: false, status: 403, detail: "Upload URL signature does not match" };
    if (now / 1000 > expires) return { ok: false, status: 403, detail: "Upload URL has expired" };
    return { ok: true, grant: { contentType, size } };
  }

  /**
   * Streams an upload into a temp file and links it into place: a reader sees the whole object or
   * none of it, and an object is written once. A second PUT with the same upload URL could
   * otherwise swap the bytes of a file already attached (and forwarded into chats its uploader
   * cannot see); the same bytes again (a retried PUT) pass. The body goes to disk as it comes
   * (held whole in memory, 8 uploads of 50 MiB at once took the process from 355 to 1,039 MB).
   * Answers null when the body passes `limit` bytes; a body of another size than `expected` is
   * not stored ("short").
   */
  async writeFrom(objectKey: string, body: AsyncIterable<Uint8Array>, expected: number, limit: number): Promise<UploadOutcome | null> {
    const target = this.pathOf(objectKey);
    const temp = `${target}.${randomBytes(6).toString("hex")}.part`;
    await mkdir(dirname(target), { recursive: true });
    const md5 = new Bun.CryptoHasher("md5");
    const sink = Bun.file(temp).writer({ highWaterMark: WRITE_CHUNK });
    let size = 0;
    let ended = false;
    try {
      for await (const chunk of body) {
        size += chunk.byteLength;
        if (size > limit) return null;
        md5.update(chunk);
        sink.write(chunk);
        await sink.flush();
      }
      await sink.end();
      ended = true;
      const etag = md5.digest("hex");
      if (size !== expected) return { state: "short", size, etag };
      try {
        await link(temp, target);
        return { state: "written", size, etag };
      } catch (err) {
        if ((err as { code?: unknown }).code !== "EEXIST") throw err;
        return { state: (await sameBytes(temp, target)) ? "unchanged" : "taken", size, etag };
      }
    } finally {
      if (!ended) await Promise.resolve(sink.end()).catch(() => {});
      await rm(temp, { force: true });
    }
  }

  async head(objectKey: string): Promise<StoredObject | null> {
    const parsed = parseObjectKey(objectKey);
    if (!parsed) return null;
    try {
      const info = await stat(this.pathOf(objectKey));
      return info.isFile() ? { size: info.size, contentType: parsed.contentType } : null;
    } catch (err) {
      if ((err as { code?: unknown }).code === "ENOENT") return null;
      throw new StorageUnavailableError("local storage cannot be read", { cause: err });
    }
  }

  async ensureAvailable(): Promise<void> {
    const root = join(this.dataDir, "uploads");
    try {
      await mkdir(root, { recursive: true });
      await access(root, constants.W_OK);
    } catch (err) {
      throw new StorageUnavailableError("local storage is not writable", { cause: err });
    }
  }

  private sign(objectKey: string, contentType: string, size: number, expires: number): string {
    return createHmac("sha256", this.signingKey())
      .update(["PUT", objectKey, contentType, String(size), String(expires)].join("\n"))
      .digest("base64url");
  }

  /** Derived from JWT_SECRET when set (domain-separated); in development a key kept in DATA_DIR. */
  private signingKey(): Buffer {
    if (this.key) return this.key;
    if (this.jwtSecret) {
      this.key = createHmac("sha256", this.jwtSecret).update("parley:local-upload-urls").digest();
      return this.key;
    }
    const file = join(this.dataDir, "upload-signing-key");
    if (!existsSync(file)) {
      mkdirSync(this.dataDir, { recursive: true });
      try {
        // "wx": when two processes share a DATA_DIR, the first key written wins for both.
        writeFileSync(file, randomBytes(32).toString("base64url"), { mode: 0o600, flag: "wx" });
      } catch (err) {
        if ((err as { code?: unknown }).code !== "EEXIST") throw err;
      }
    }
    this.key = Buffer.from(readFileSync(file, "utf8").trim(), "base64url");
    return this.key;
  }
}
