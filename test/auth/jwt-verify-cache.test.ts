/**
 * verifyJwt remembers access tokens it verified (src/auth/jwt.ts): a remembered token must still be
 * refused for another secret, another type, after its expiry, and any change to its bytes.
 */
import { describe, expect, test } from "bun:test";
import { signJwt, verifyJwt, type TokenClaims } from "../../src/auth/jwt";

const SECRET = "jwt-cache-secret-0123456789abcdefghijklmnopqrstuv";
let n = 0;

function freshClaims(overrides: Partial<TokenClaims> = {}): TokenClaims {
  const now = Math.floor(Date.now() / 1000);
  n += 1;
  return { sub: "7", jti: `jwt-cache-${n}-${Math.random().toString(36).slice(2)}`, typ: "access", iat: now, exp: now + 600, ...overrides };
}

describe("verifyJwt with remembered tokens", () => {
  test("a verified token answers the same claims again", () => {
    const claims = freshClaims();
    const token = signJwt(claims, SECRET);
    expect(verifyJwt(token, SECRET, "access")).toEqual(claims);
    expect(verifyJwt(token, SECRET, "access")).toEqual(claims);
  });

  test("a remembered token is refused for another secret, another type and after it expires", () => {
    const claims = freshClaims();
    const token = signJwt(claims, SECRET);
    expect(verifyJwt(token, SECRET, "access")).not.toBeNull();
    expect(verifyJwt(token, `${SECRET}x`, "access")).toBeNull();
    expect(verifyJwt(token, SECRET, "refresh")).toBeNull();
    expect(verifyJwt(token, SECRET, "access", { nowSeconds: claims.exp })).toBeNull();
    expect(verifyJwt(token, SECRET, "access", { nowSeconds: claims.exp - 1 })).not.toBeNull();
  });

  test("a changed byte anywhere is refused, even right after the original was verified", () => {
    const token = signJwt(freshClaims(), SECRET);
    expect(verifyJwt(token, SECRET, "access")).not.toBeNull();
    const [header, payload, signature] = token.split(".") as [string, string, string];
    // A middle character: the last one of a base64url segment may carry only padding bits.
    const flip = (s: string) => `${s.slice(0, 5)}${s[5] === "A" ? "B" : "A"}${s.slice(6)}`;
    for (const forged of [`${header}.${payload}.${flip(signature)}`, `${header}.${flip(payload)}.${signature}`, `${flip(header)}.${payload}.${signature}`])
      expect(verifyJwt(forged, SECRET, "access")).toBeNull();
  });

  test("a token refused once (expired) is not remembered as valid", () => {
    const claims = freshClaims();
    const token = signJwt(claims, SECRET);
    expect(verifyJwt(token, SECRET, "access", { nowSeconds: claims.exp + 1 })).toBeNull();
    expect(verifyJwt(token, SECRET, "access", { nowSeconds: claims.exp + 1 })).toBeNull();
    expect(verifyJwt(token, SECRET, "access")).toEqual(claims);
  });

  test("refresh tokens verify as before", () => {
    const claims = freshClaims({ typ: "refresh", rot: "r1" });
    const token = signJwt(claims, SECRET);
    expect(verifyJwt(token, SECRET, "refresh")).toEqual(claims);
    expect(verifyJwt(token, SECRET, "access")).toBeNull();
  });
});
