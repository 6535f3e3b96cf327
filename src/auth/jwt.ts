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

/** Claims of a valid, unexpired token of type `typ`; null for anything else. */
export function verifyJwt(token: string, secret: string, typ: TokenType, nowSeconds = Date.now() / 1000): TokenClaims | null {
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
  if (claims.typ !== typ || typeof claims.sub !== "string" || typeof claims.jti !== "string") return null;
  if (typeof claims.exp !== "number" || claims.exp <= nowSeconds) return null;
  return claims as TokenClaims;
}
