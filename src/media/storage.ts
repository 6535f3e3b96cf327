/**
 * Object storage behind one interface: S3 (any S3-compatible endpoint) when S3_* is set, else
 * local disk under DATA_DIR/uploads served by our own /files route with HMAC-signed URLs.
 * (Placeholder until the media issue lands: see issue 7.)
 */
import type { Config } from "../env";

export interface PresignedPut {
  url: string;
  headers: Record<string, string>;
}

export interface StoredObject {
  size: number;
  contentType: string | null;
}

export interface Storage {
  readonly kind: "s3" | "local";
  /** Base under which every file_url lies (CONTRACT §7). */
  readonly publicBase: string;
  presignPut(objectKey: string, contentType: string, size: number, expiresIn: number): Promise<PresignedPut>;
  /** null when the object does not exist; throws StorageUnavailableError when storage is down. */
  head(objectKey: string): Promise<StoredObject | null>;
}

export class StorageUnavailableError extends Error {}

export function createStorage(config: Config): Storage {
  const base = config.publicFileBase ?? `http://${config.HOST}:${config.PORT}/files`;
  return {
    kind: config.s3Enabled ? "s3" : "local",
    publicBase: base,
    presignPut: async () => {
      throw new StorageUnavailableError("storage not implemented yet");
    },
    head: async () => {
      throw new StorageUnavailableError("storage not implemented yet");
    },
  };
}
