/** Forged and misused JWTs are refused with 401 on REST, tRPC and the WebSocket upgrade (issue 11 §3). */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { signJwt } from "../../src/auth/jwt";
import { startTestServer, TEST_JWT_SECRET, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";

let server: TestServer;
let user: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  user = await createUser(server);
});
afterAll(() => server.stop());

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

function claimsOf(token: string): Record<string, unknown> {
  const part = token.split(".")[1] ?? "";
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
}

function forge(header: Record<string, unknown>, claims: Record<string, unknown>, secret = TEST_JWT_SECRET, alg = "sha256"): string {
  const h = b64(header);
  const p = b64(claims);
  const sig = createHmac(alg, secret).update(`${h}.${p}`).digest("base64url");
  return `${h}.${p}.${sig}`;
}

function forgeries(): Record<string, string> {
  const real = claimsOf(user.token);
  const now = Math.floor(Date.now() / 1000);
  const [h, p, s] = user.token.split(".") as [string, string, string];
  const other = { ...real, sub: String(Number(real.sub) + 1) };
  return {
    "alg none": `${b64({ alg: "none", typ: "JWT" })}.${b64(real)}.`,
    "alg HS512": forge({ alg: "HS512", typ: "JWT" }, real, TEST_JWT_SECRET, "sha512"),
    "tampered payload (other user, old signature)": `${h}.${b64(other)}.${s}`,
    "tampered signature": `${h}.${p}.${s.slice(0, -2)}${s.endsWith("AA") ? "BB" : "AA"}`,
    "other secret": forge({ alg: "HS256", typ: "JWT" }, real, "another-secret-of-at-least-32-characters!!"),
    expired: signJwt({ sub: String(real.sub), jti: String(real.jti), typ: "access", iat: now - 100, exp: now - 1 }, TEST_JWT_SECRET),
    "refresh token as access": user.refreshToken,
    "wrong typ": signJwt({ sub: String(real.sub), jti: String(real.jti), typ: "refresh", iat: now, exp: now + 60 }, TEST_JWT_SECRET),
    "unknown session": signJwt({ sub: String(real.sub), jti: "no-such-session", typ: "access", iat: now, exp: now + 60 }, TEST_JWT_SECRET),
    "session of another user": signJwt({ sub: String(Number(real.sub) + 1), jti: String(real.jti), typ: "access", iat: now, exp: now + 60 }, TEST_JWT_SECRET),
    garbage: "a.b.c",
    empty: "",
  };
}

describe("forged access tokens", () => {
  test("the real token works (control)", async () => {
    const r = await fetch(`${server.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${user.token}` } });
    expect(r.status).toBe(200);
  });

  for (const name of ["alg none", "alg HS512", "tampered payload (other user, old signature)", "tampered signature", "other secret", "expired", "refresh token as access", "wrong typ", "unknown session", "session of another user", "garbage", "empty"]) {
    test(`${name}: 401 on REST, tRPC and /ws`, async () => {
      const token = forgeries()[name] ?? "";
      const rest = await fetch(`${server.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(rest.status).toBe(401);
      expect(rest.headers.get("www-authenticate")).toBe("Bearer");
      expect(Object.keys((await rest.json()) as object)).toEqual(["detail"]);
      const trpc = await fetch(`${server.url}/trpc/auth.me?input=%7B%7D`, { headers: { authorization: `Bearer ${token}` } });
      expect(trpc.status).toBe(401);
      const ws = await fetch(`${server.url}/ws?token=${encodeURIComponent(token)}`, { headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } });
      expect(ws.status).toBe(401);
    });
  }
});
