/**
 * HS256 JWTs (CONTRACT §3). Only HS256 is accepted whatever the header says, signatures are compared
 * in constant time, and `typ` separates access from refresh tokens.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export type TokenType = "access" | "refresh";

export interface TokenClaims {
  sub: string;
  jti: string;
  typ: TokenType;
  iat: number;
  exp: number;
  /** Refresh tokens only: which rotation of the session this token belongs to. */
  rot?: string;
}

const b64url = (input: Buffer | string) => Buffer.from(input).toString("base64url");
const HEADER = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));

export function signJwt(claims: TokenClaims, secret: string): string {
  const payload = b64url(JSON.stringify(claims));
  const signature = createHmac("sha256", secret).update(`${HEADER}.${payload}`).digest("base64url");
  return `${HEADER}.${payload}.${signature}`;
}

/**
 * Tokens whose signature already checked out, so that a client's every request does not redo the
 * HMAC and two base64/JSON decodes. Keyed by the whole token (its signature included) and the
 * secret, so a hit is the same verification answered again; type and expiry are still checked on
 * every call. Only valid access tokens get in (refresh tokens are used once; a flood of bad tokens
 * costs no memory), and the map is bounded.
 */
const verified = new Map<string, { secret: string; claims: Readonly<TokenClaims> }>();
const MAX_VERIFIED = 10_000;

/** Whether `token` is among the remembered ones (tests). */
export const tokenIsRemembered = (token: string): boolean => verified.has(token);

export interface VerifyOptions {
  nowSeconds?: number;
  /**
   * False for a token presented once (a WebSocket upgrade): remembering it would cost each open
   * socket about 0.6 KiB for a hit that never comes.
   */
  remember?: boolean;
}

/** Claims of a valid, unexpired token of type `typ`; null for anything else. */
export function verifyJwt(token: string, secret: string, typ: TokenType, opts: VerifyOptions = {}): TokenClaims | null {
  const nowSeconds = opts.nowSeconds ?? Date.now() / 1000;
  const hit = verified.get(token);
  if (hit && hit.secret === secret) return hit.claims.typ === typ && hit.claims.exp > nowSeconds ? hit.claims : null;
  const claims = verifySignedClaims(token, secret);
  if (!claims || claims.typ !== typ || claims.exp <= nowSeconds) return null;
  if (typ !== "access" || opts.remember === false) return claims;
  if (verified.size >= MAX_VERIFIED) {
    // Oldest first (Map keeps insertion order); a dropped token only costs one verification.
    const oldest = verified.keys().next().value;
    if (oldest !== undefined) verified.delete(oldest);
  }
  verified.set(token, { secret, claims: Object.freeze(claims) });
  return claims;
}

/** The claims of a well-formed HS256 token signed with `secret`, whatever their type and expiry. */
function verifySignedClaims(token: string, secret: string): TokenClaims | null {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  const [header, payload, signature] = parts as [string, string, string];
  let headerJson: { alg?: unknown };
  try {
    headerJson = JSON.parse(Buffer.from(header, "base64url").toString("utf8"));
  } catch {
    return null;
  }
  if (headerJson.alg !== "HS256") return null;
  const expected = createHmac("sha256", secret).update(`${header}.${payload}`).digest();
  const given = Buffer.from(signature, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  let claims: Partial<TokenClaims>;
  try {
    claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch {
    return null;
  }
  if ((claims.typ !== "access" && claims.typ !== "refresh") || typeof claims.sub !== "string" || typeof claims.jti !== "string") return null;
  if (typeof claims.exp !== "number") return null;
  return claims as TokenClaims;
}
