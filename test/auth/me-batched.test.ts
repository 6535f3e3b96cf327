/**
 * `auth.me` reads the caller's row through a lookup that coalesces the lookups of the same turn of
 * the event loop into one statement (src/db/batched-lookup.ts). Each caller must still get their
 * own account, freshly read, and one failed statement must fail only the lookups it carried.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { queryRows } from "../../src/db/client";
import { BatchedLookup } from "../../src/db/batched-lookup";
import { intArray } from "../../src/db/sql-fragments";
import { AppError } from "../../src/errors";
import { authUserLookup, getAuthUser } from "../../src/routers/auth/service";
import { api, client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";

let server: TestServer;
let people: TestUser[];

beforeAll(async () => {
  server = await startTestServer();
  people = [];
  for (let i = 0; i < 12; i++) people.push(await createUser(server));
});
afterAll(() => server.stop());

const accountOf = (u: TestUser) => ({ id: u.id, email: u.email, username: u.username, name: u.name });

describe("auth.me under concurrency", () => {
  test("many callers at once, over tRPC and REST, each get their own account", async () => {
    const calls = people.flatMap((u) => [
      fetch(`${server.url}/trpc/auth.me?input=${encodeURIComponent("{}")}`, { headers: { authorization: `Bearer ${u.token}` } })
        .then((r) => r.json() as Promise<{ result: { data: unknown } }>)
        .then((b) => ({ u, me: b.result.data })),
      api(server.url, "GET", "/auth/me", { token: u.token }).then((r) => ({ u, me: r.body as unknown })),
    ]);
    const answers = await Promise.all(calls);
    expect(answers).toHaveLength(people.length * 2);
    for (const { u, me } of answers) expect(me).toMatchObject(accountOf(u));
  });

  test("lookups asked in the same turn go out as one statement; unknown ids answer 404", async () => {
    const lookup = authUserLookup(server.app);
    const before = lookup.statementsSent;
    const ids = [...people.map((u) => u.id), people[0]!.id, 999_999, 2 ** 40];
    const outcomes = await Promise.all(ids.map((id) => getAuthUser(server.app, id).catch((err: unknown) => err)));
    expect(lookup.statementsSent - before).toBe(1);
    people.forEach((u, i) => expect(outcomes[i]).toMatchObject(accountOf(u)));
    expect(outcomes[people.length]).toMatchObject(accountOf(people[0]!));
    for (const missing of outcomes.slice(people.length + 1)) {
      expect(missing).toBeInstanceOf(AppError);
      expect((missing as AppError).status).toBe(404);
    }
  });

  test("a profile change is in the very next auth.me", async () => {
    const u = people[1]!;
    const http = client(server.url);
    const changed = await http.put("/users/profile", { token: u.token, body: { name: "Renamed Just Now" } });
    expect(changed.status).toBe(200);
    const [me] = await Promise.all([http.get("/auth/me", { token: u.token }), http.get("/auth/me", { token: people[2]!.token })]);
    expect(me.body.name).toBe("Renamed Just Now");
    expect(me.body.updated_at).toBe(changed.body.updated_at);
  });
});

describe("BatchedLookup on the real database", () => {
  type UserRow = { id: number; username: string };
  const userRows = (ids: number[]) =>
    queryRows<UserRow>(server.app.db, sql`select id, username from users where id = any(${intArray(ids)}::int[])`);
  /** A lookup over the users table that records the keys of every statement it sends. */
  function recordingLookup(maxBatch?: number): { lookup: BatchedLookup<number, UserRow>; statements: number[][] } {
    const statements: number[][] = [];
    const lookup = new BatchedLookup<number, UserRow>({
      fetch: (ids) => {
        statements.push(ids);
        return userRows(ids);
      },
      keyOf: (r) => r.id,
      maxBatch,
    });
    return { lookup, statements };
  }

  test("more keys than a batch holds go out as several statements, each key answered once", async () => {
    const { lookup, statements: seen } = recordingLookup(5);
    const ids = people.map((u) => u.id);
    const rows = await Promise.all([...ids, ...ids].map((id) => lookup.load(id)));
    expect(rows.map((r) => r?.username)).toEqual([...people, ...people].map((u) => u.username));
    expect(seen.map((b) => b.length)).toEqual([5, 5, 2]);
    expect(lookup.statementsSent).toBe(3);
  });

  test("a failed statement fails the lookups it carried, and only those", async () => {
    let fail = true;
    const lookup = new BatchedLookup<number, UserRow>({
      fetch: (ids) =>
        fail ? queryRows(server.app.db, sql`select id, username from no_such_table where id = any(${intArray(ids)}::int[])`) : userRows(ids),
      keyOf: (r) => r.id,
    });
    const first = await Promise.allSettled([lookup.load(people[0]!.id), lookup.load(people[1]!.id)]);
    expect(first.map((o) => o.status)).toEqual(["rejected", "rejected"]);
    fail = false;
    const second = await Promise.all([lookup.load(people[0]!.id), lookup.load(people[1]!.id)]);
    expect(second.map((r) => r?.id)).toEqual([people[0]!.id, people[1]!.id]);
  });

  test("a key asked while its batch is in flight waits for a fresh statement", async () => {
    const u = people[3]!;
    const { lookup, statements } = recordingLookup();
    const inFlight = lookup.load(u.id);
    await new Promise((resolve) => setImmediate(resolve));
    // The first statement is sent; a rename committed now must be seen by a lookup asked now.
    await server.app.db.execute(sql`update users set username = ${`${u.username}_x`} where id = ${u.id}`);
    const later = await lookup.load(u.id);
    await inFlight;
    expect(statements).toEqual([[u.id], [u.id]]);
    expect(later?.username).toBe(`${u.username}_x`);
    await server.app.db.execute(sql`update users set username = ${u.username} where id = ${u.id}`);
  });
});
