import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { users } from "../../src/db/schema";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";

let server: TestServer;
let http: ReturnType<typeof client>;
let caller: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  caller = await createUser(server);
}, 180_000);
afterAll(() => server.stop());

const tag = () => Math.random().toString(36).slice(2, 8).replace(/\d/g, "q");

type SubjectRow = { username: string; name?: string; email?: string };

/** Search subjects inserted directly: these tests are about search, not registration. Ids in order. */
async function insertUsers<const T extends readonly SubjectRow[]>(rows: T): Promise<{ [K in keyof T]: number }> {
  const inserted = await server.app.db
    .insert(users)
    .values(rows.map((r) => ({ username: r.username, name: r.name ?? `Person ${r.username}`, email: r.email ?? `${r.username.toLowerCase()}@example.com`, passwordHash: "x" })))
    .returning({ id: users.id });
  return inserted.map((r) => r.id) as { [K in keyof T]: number };
}

const search = (query: string, extra = "") => http.get(`/users/search?query=${encodeURIComponent(query)}${extra}`, { token: caller.token });
const ids = (body: { id: number }[]) => body.map((u) => u.id);

describe("GET /users/search", () => {
  test("shape is UserSearchRead", async () => {
    const t = tag();
    const [id] = await insertUsers([{ username: `shape_${t}` }]);
    const r = await search(`shape_${t}`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual([{ id, name: `Person shape_${t}`, username: `shape_${t}`, email: null, avatar_url: null }]);
  });

  test("under 2 characters after trimming and one leading @ gives []", async () => {
    await insertUsers([{ username: `aa${tag()}` }]);
    for (const q of ["", " ", "a", "@", "@a", "  @a  ", "@ "]) {
      const r = await search(q);
      expect(r.status).toBe(200);
      expect(r.body).toEqual([]);
    }
  });

  test("a leading @ is dropped (only one) and surrounding spaces trimmed", async () => {
    const t = tag();
    const [id] = await insertUsers([{ username: `at_${t}` }]);
    expect(ids((await search(`@at_${t}`)).body)).toEqual([id]);
    expect(ids((await search(`  @at_${t}  `)).body)).toEqual([id]);
    expect((await search(`@@at_${t}`)).body).toEqual([]);
  });

  test("2 characters already match (prefix and substring)", async () => {
    const t = tag();
    const [id] = await insertUsers([{ username: `x${t}zv`, name: `Zeta ${t}` }]);
    const twoChars = `${t}zv`.slice(-2);
    expect(ids((await search(twoChars, "&limit=100")).body)).toContain(id);
  });

  test("case-insensitive substring on username and on name", async () => {
    const t = tag();
    const [byUser, byName] = await insertUsers([
      { username: `Mid${t}Dle`, name: "Plain" },
      { username: `other_${tag()}`, name: `The ${t.toUpperCase()} Family` },
    ]);
    expect(ids((await search(t.toUpperCase())).body).sort()).toEqual([byUser, byName].sort());
    expect(ids((await search(`${t}dle`)).body)).toEqual([byUser]);
    expect(ids((await search(`${t} family`)).body)).toEqual([byName]);
  });

  test("exact email matches (any case) and shows the email the caller typed; partial email does not", async () => {
    const t = tag();
    const email = `mail_${t}@example.org`;
    const [id] = await insertUsers([{ username: `nomatch${tag()}`, name: "Nobody", email }]);
    const r = await search(email.toUpperCase());
    expect(r.body).toEqual([expect.objectContaining({ id, email })]);
    expect((await search(`mail_${t}@example`)).body).toEqual([]);
  });

  test("exact username comes first, even when it sorts last", async () => {
    const t = tag();
    const exact = `zz${t}`;
    const [exactId] = await insertUsers([{ username: exact, name: "Zed" }]);
    await insertUsers([
      { username: `aa_${exact}_1`, name: "A" },
      { username: `${exact}_a`, name: "B" },
      { username: `b_${tag()}`, name: `Called ${exact}` },
    ]);
    const r = await search(exact.toUpperCase());
    expect(r.body).toHaveLength(4);
    expect(r.body[0].id).toBe(exactId);
    // Prefix matches come before other substring matches.
    expect(r.body[1].username).toBe(`${exact}_a`);
  });

  test("never the caller, even on an exact username or email", async () => {
    for (const q of [caller.username, caller.email, `@${caller.username}`, caller.name]) {
      const r = await search(q);
      expect(r.status).toBe(200);
      expect(ids(r.body)).not.toContain(caller.id);
    }
  });

  test("LIKE metacharacters are literal: _ and % match only themselves", async () => {
    const t = tag();
    const [underscored] = await insertUsers([{ username: `u_${t}` }, { username: `uX${t}` }]);
    expect(ids((await search(`u_${t}`)).body)).toEqual([underscored]);
    expect((await search(`u%${t}`)).body).toEqual([]);
  });

  test("limit: default 20, honoured, 1..100 else 422", async () => {
    const t = tag();
    await insertUsers(Array.from({ length: 25 }, (_, i) => ({ username: `lim${t}${String(i).padStart(2, "0")}` })));
    expect((await search(`lim${t}`)).body).toHaveLength(20);
    expect((await search(`lim${t}`, "&limit=5")).body).toHaveLength(5);
    expect((await search(`lim${t}`, "&limit=100")).body).toHaveLength(25);
    // Prefix matches come sorted by username.
    const names = (await search(`lim${t}`, "&limit=100")).body.map((u: { username: string }) => u.username);
    expect(names).toEqual([...names].sort());
    for (const bad of ["0", "101", "-1", "abc", "2.5"]) {
      const r = await search(`lim${t}`, `&limit=${bad}`);
      expect(r.status).toBe(422);
      expect(r.body.detail).toStartWith("limit:");
    }
  });

  test("query is required; no token is 401", async () => {
    const r = await http.get("/users/search", { token: caller.token });
    expect(r.status).toBe(422);
    expect(r.body.detail).toStartWith("query:");
    expect((await http.get("/users/search?query=abc")).status).toBe(401);
  });

  test("avatar_url follows the subject's privacy_avatar", async () => {
    const t = tag();
    const [open, closed] = await insertUsers([{ username: `av_open_${t}` }, { username: `av_closed_${t}` }]);
    await server.app.db.update(users).set({ avatarUrl: "https://cdn.example.com/open.png" }).where(eq(users.id, open));
    await server.app.db.update(users).set({ avatarUrl: "https://cdn.example.com/closed.png", privacyAvatar: "nobody" }).where(eq(users.id, closed));
    const r = await search(`_${t}`);
    const byId = new Map(r.body.map((u: { id: number; avatar_url: string | null }) => [u.id, u.avatar_url]));
    expect(byId.get(open)).toBe("https://cdn.example.com/open.png");
    expect(byId.get(closed)).toBeNull();
  });
});
