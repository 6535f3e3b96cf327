/**
 * S3 driver (AWS S3, MinIO, R2, ... through S3_ENDPOINT). Presigned PUT URLs sign Content-Type
 * and Content-Length, so an upload of another type or size fails the signature at the storage.
 * Every network call has a short deadline: storage that does not answer is a fast 503, not a
 * hanging request.
 */
import { HeadBucketCommand, HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { Config } from "../env";
import type { PresignedPut, Storage, StoredObject } from "./storage";
import { StorageUnavailableError } from "./storage-error";

const CALL_DEADLINE_MS = 3000;
/** A bucket that answered recently is taken as up, so upload-url does not probe on every call. */
const HEALTHY_FOR_MS = 10_000;

export class S3Storage implements Storage {
  readonly kind = "s3" as const;
  readonly publicBase: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private healthyUntil = 0;

  constructor(config: Config) {
    if (!config.S3_ENDPOINT || !config.S3_BUCKET || !config.publicFileBase) throw new Error("S3 storage needs S3_ENDPOINT and S3_BUCKET");
    this.bucket = config.S3_BUCKET;
    this.publicBase = config.publicFileBase;
    this.client = new S3Client({
      endpoint: config.S3_ENDPOINT,
      region: config.S3_REGION,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
      credentials:
        config.S3_ACCESS_KEY_ID && config.S3_SECRET_ACCESS_KEY
          ? { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY }
          : undefined,
      // The SDK's default adds a CRC32 of the (empty) presign-time body to PUT URLs, which the
      // real upload then fails; checksums only where an operation requires them.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      maxAttempts: 2,
      requestHandler: { connectionTimeout: 1000, requestTimeout: CALL_DEADLINE_MS },
    });
  }

  bindServerUrl(): void {}

  async presignPut(objectKey: string, contentType: string, size: number, expiresIn: number): Promise<PresignedPut> {
    // If-None-Match: * makes the PUT a conditional write (S3 answers 412 when the key exists): an
    // object is written once, so its uploader cannot swap the bytes of a file already attached.
    const command = new PutObjectCommand({ Bucket: this.bucket, Key: objectKey, ContentType: contentType, ContentLength: size, IfNoneMatch: "*" });
    // The presigner leaves these headers unsigned by default; signing them pins them.
    const url = await getSignedUrl(this.client, command, { expiresIn, signableHeaders: new Set(["content-type", "content-length", "if-none-match"]) });
    return { url, headers: { "Content-Type": contentType, "Content-Length": String(size), "If-None-Match": "*" } };
  }

  async head(objectKey: string): Promise<StoredObject | null> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }), {
        abortSignal: AbortSignal.timeout(CALL_DEADLINE_MS),
      });
      this.healthyUntil = Date.now() + HEALTHY_FOR_MS;
      return { size: out.ContentLength ?? 0, contentType: out.ContentType ?? null };
    } catch (err) {
      if (isMissingObject(err)) {
        this.healthyUntil = Date.now() + HEALTHY_FOR_MS;
        return null;
      }
      throw new StorageUnavailableError("object storage did not answer HEAD", { cause: err });
    }
  }

  async ensureAvailable(): Promise<void> {
    if (Date.now() < this.healthyUntil) return;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: AbortSignal.timeout(CALL_DEADLINE_MS) });
      this.healthyUntil = Date.now() + HEALTHY_FOR_MS;
    } catch (err) {
      throw new StorageUnavailableError("object storage bucket is unreachable", { cause: err });
    }
  }
}

function isMissingObject(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return err.name === "NotFound" || err.name === "NoSuchKey" || status === 404;
}
