import { createHash, randomBytes } from "node:crypto";

const PUBLIC_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** Uniform random string over `alphabet` (rejection sampling, no modulo bias). */
export function randomString(length: number, alphabet = PUBLIC_ID_ALPHABET): string {
  const limit = 256 - (256 % alphabet.length);
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < limit) out += alphabet[byte % alphabet.length];
      if (out.length === length) break;
    }
  }
  return out;
}

/** A URL-safe token with `bits` of entropy. */
export const randomToken = (bits = 192): string => randomBytes(Math.ceil(bits / 8)).toString("base64url");

export const sha256Hex = (value: string): string => createHash("sha256").update(value).digest("hex");
