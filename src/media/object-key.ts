/**
 * Object keys: `uploads/<user_id>/<random>.<ext>` (CONTRACT §7). Every key that reaches a
 * storage driver or the disk has passed `parseObjectKey`, which is what keeps paths from
 * escaping the uploads directory.
 */
import { randomToken } from "../lib/random";
import { extensionFor, mimeForExtension, type AllowedMimeType } from "./mime";

const OBJECT_KEY = /^uploads\/([1-9]\d{0,9})\/([A-Za-z0-9_-]{16,64})\.([a-z0-9]{2,5})$/;

export interface ObjectKey {
  key: string;
  ownerId: number;
  contentType: AllowedMimeType;
}

export function newObjectKey(ownerId: number, contentType: AllowedMimeType): string {
  return `uploads/${ownerId}/${randomToken(128)}.${extensionFor(contentType)}`;
}

export function parseObjectKey(key: string): ObjectKey | null {
  const m = OBJECT_KEY.exec(key);
  if (!m) return null;
  const [, owner, , ext] = m;
  const contentType = ext === undefined ? undefined : mimeForExtension(ext);
  if (owner === undefined || contentType === undefined) return null;
  return { key, ownerId: Number(owner), contentType };
}
