/**
 * Object storage behind one interface: S3 (any S3-compatible endpoint) when S3_* is set, else
 * local disk under DATA_DIR/uploads served by our own /files route with HMAC-signed URLs. The
 * client flow is the same for both: ask for an upload URL, PUT the bytes with the required
 * headers, attach the public file URL. See docs/media.md.
 */
import type { Config } from "../env";
import { LocalStorage } from "./local-storage";
import { S3Storage } from "./s3-storage";

export interface PresignedPut {
  url: string;
  /** Headers the PUT must carry exactly (they are part of the signature). */
  headers: Record<string, string>;
}

export interface StoredObject {
  size: number;
  contentType: string | null;
}

export interface Storage {
  readonly kind: "s3" | "local";
  /** Base under which every file_url lies (CONTRACT §7); no trailing slash. */
  readonly publicBase: string;
  presignPut(objectKey: string, contentType: string, size: number, expiresIn: number): Promise<PresignedPut>;
  /** null when the object does not exist; throws StorageUnavailableError when storage is down. */
  head(objectKey: string): Promise<StoredObject | null>;
  /** Throws StorageUnavailableError when storage cannot take uploads right now. */
  ensureAvailable(): Promise<void>;
  /** Told the listener's URL once the server listens (the local driver's default base). */
  bindServerUrl(url: string): void;
}

export { StorageUnavailableError } from "./storage-error";

export function createStorage(config: Config): Storage {
  return config.s3Enabled ? new S3Storage(config) : new LocalStorage(config);
}
