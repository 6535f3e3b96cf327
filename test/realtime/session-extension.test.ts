/**
 * A session past half its life is extended by the request that uses it (lucia), also when that
 * request is a WebSocket connect (every socket of a reconnect storm after a restart may be one).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { sessions } from "../../src/db/schema";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser } from "../helpers/users";
import { WsClient } from "./ws-client";

let server: TestServer;

beforeAll(async () => {
  // No session cache: every use goes to the session row.
  server = await startTestServer({ env: { SESSION_CACHE_MS: "0" } });
}, 120_000);
afterAll(() => server.stop());

const sessionIdOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()).jti as string;
const DAY = 24 * 3600 * 1000;

async function expiresAt(id: string): Promise<number> {
  const [row] = await server.app.db.select({ at: sessions.expiresAt }).from(sessions).where(eq(sessions.id, id));
  return row?.at.getTime() ?? 0;
}

test("a WebSocket connect and an HTTP request each extend a session near its end", async () => {
  for (const use of ["ws", "http"] as const) {
    const user = await createUser(server);
    const id = sessionIdOf(user.token);
    await server.app.db.update(sessions).set({ expiresAt: sql`now() + interval '2 days'` }).where(eq(sessions.id, id));
    expect(await expiresAt(id)).toBeLessThan(Date.now() + 3 * DAY);
    if (use === "ws") await (await WsClient.connect(server.url, user.token)).close();
    else expect((await client(server.url).get("/auth/me", { token: user.token })).status).toBe(200);
    const ttl = Number(server.env.REFRESH_TOKEN_TTL_SECONDS ?? 2592000) * 1000;
    expect(await expiresAt(id)).toBeGreaterThan(Date.now() + ttl - DAY);
  }
});
