/**
 * A token lookup that fails for an unexpected reason (not an outage) answers a plain 500 on both
 * transports, and the driver's message stays in the log. Before the fix tRPC sent the raw message
 * ("relation "sessions" does not exist") to the caller.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";

let server: TestServer;
let user: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  user = await createUser(server);
}, 120_000);
afterAll(() => server.stop());

test("an unexpected failure while resolving the token is a plain 500, logged", async () => {
  await server.app.db.execute(sql`alter table sessions rename to sessions_away`);
  try {
    // Past the session cache (at most one second), so the lookup reaches the database.
    await Bun.sleep(1100);
    const headers = { authorization: `Bearer ${user.token}` };
    const trpc = await fetch(`${server.url}/trpc/auth.me?input=${encodeURIComponent("{}")}`, { headers });
    const trpcText = await trpc.text();
    expect(trpc.status).toBe(500);
    expect(trpcText).not.toContain("sessions");
    expect(JSON.parse(trpcText).error.message).toBe("Internal server error");
    const rest = await fetch(`${server.url}/api/v1/auth/me`, { headers });
    const restText = await rest.text();
    expect(rest.status).toBe(500);
    expect(restText).not.toContain("sessions");
    expect(server.logs.some((l) => l.includes("request context failed") && l.includes("sessions"))).toBe(true);
  } finally {
    await server.app.db.execute(sql`alter table sessions_away rename to sessions`);
  }
});
