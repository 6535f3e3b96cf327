/**
 * A WebSocket upgrade's token is verified but not remembered (src/auth/jwt.ts): a socket presents
 * it once, so remembering it only cost each open socket memory (about 0.6 KiB, the benchmark's
 * idle-socket figure). The same token over HTTP is remembered as before.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { signJwt, tokenIsRemembered } from "../../src/auth/jwt";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";
import { WsClient } from "./ws-client";

let server: TestServer;
let user: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  user = await createUser(server);
}, 60_000);

afterAll(async () => {
  await server.stop();
});

/** Another access token of the user's session, never presented before. */
function freshToken(): string {
  const { jti } = JSON.parse(Buffer.from(user.token.split(".")[1] ?? "", "base64url").toString("utf8")) as { jti: string };
  const now = Math.floor(Date.now() / 1000);
  // A distinct expiry makes distinct bytes.
  return signJwt({ sub: String(user.id), jti, typ: "access", iat: now, exp: now + 600 + Math.floor(Math.random() * 10_000) }, server.app.jwtSecret);
}

test("a socket's token is not remembered; the same token on HTTP is", async () => {
  const token = freshToken();
  const ws = await WsClient.connect(server.url, token);
  try {
    expect(tokenIsRemembered(token)).toBe(false);
    const me = await client(server.url).get("/auth/me", { token });
    expect(me.status).toBe(200);
    expect(tokenIsRemembered(token)).toBe(true);
  } finally {
    await ws.close();
  }
});
