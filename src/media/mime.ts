/**
 * The upload whitelist of the reference (§9) and the extension each type is stored under.
 * Object keys take their extension from the MIME type, never from the client's file name, so
 * the local driver can answer the content type of a stored object from its key alone.
 */
export const ALLOWED_MIME_TYPES = [
  "image/jpeg",
  "image/png",
  "image/webp",
  "video/mp4",
  "video/webm",
  "audio/mpeg",
  "audio/ogg",
  "audio/webm",
  "audio/wav",
  "application/pdf",
  "application/zip",
  "text/plain",
] as const;
export type AllowedMimeType = (typeof ALLOWED_MIME_TYPES)[number];

// audio/webm and video/webm would share ".webm": the audio one gets ".weba" to stay reversible.
const EXTENSION_BY_MIME: Record<AllowedMimeType, string> = {
  "image/jpeg": "jpg",
  "image/png": "png",
  "image/webp": "webp",
  "video/mp4": "mp4",
  "video/webm": "webm",
  "audio/mpeg": "mp3",
  "audio/ogg": "ogg",
  "audio/webm": "weba",
  "audio/wav": "wav",
  "application/pdf": "pdf",
  "application/zip": "zip",
  "text/plain": "txt",
};

const MIME_BY_EXTENSION = new Map<string, AllowedMimeType>(
  ALLOWED_MIME_TYPES.map((mime) => [EXTENSION_BY_MIME[mime], mime]),
);

export function isAllowedMimeType(value: string): value is AllowedMimeType {
  return (ALLOWED_MIME_TYPES as readonly string[]).includes(value);
}

export const extensionFor = (mime: AllowedMimeType): string => EXTENSION_BY_MIME[mime];

export const mimeForExtension = (ext: string): AllowedMimeType | undefined => MIME_BY_EXTENSION.get(ext);
