import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";

let server: TestServer;
let http: ReturnType<typeof client>;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  [alice, bob] = [await createUser(server), await createUser(server)];
}, 180_000);
afterAll(() => server.stop());

const USER_READ_KEYS = ["id", "name", "username", "email", "avatar_url", "bio", "email_verified", "allow_private_messages", "twofa_enabled", "created_at", "updated_at"];
const PRIVACY_KEYS = ["privacy_avatar", "privacy_last_seen", "privacy_group_invites"];

describe("GET /users/me", () => {
  test("answers the caller's UserRead with privacy settings defaulting to everyone", async () => {
    const r = await http.get("/users/me", { token: alice.token });
    expect(r.status).toBe(200);
    expect(Object.keys(r.body).sort()).toEqual([...USER_READ_KEYS, ...PRIVACY_KEYS].sort());
    expect(r.body).toMatchObject({
      id: alice.id,
      name: alice.name,
      username: alice.username,
      email: alice.email,
      avatar_url: null,
      bio: null,
      email_verified: true,
      allow_private_messages: true,
      twofa_enabled: false,
      privacy_avatar: "everyone",
      privacy_last_seen: "everyone",
      privacy_group_invites: "everyone",
    });
    expect(r.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  });
  test("401 without a token", async () => {
    expect((await http.get("/users/me")).status).toBe(401);
  });
});

describe("PUT /users/profile", () => {
  test("changes only the fields sent and moves updated_at", async () => {
    const user = await createUser(server);
    const before = (await http.get("/users/me", { token: user.token })).body;
    const r = await http.put("/users/profile", {
      token: user.token,
      body: { name: "  New Name  ", bio: "hello", avatar_url: "https://cdn.example.com/a.png", allow_private_messages: false, privacy_avatar: "contacts", privacy_last_seen: "nobody", privacy_group_invites: "contacts" },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      id: user.id,
      name: "New Name",
      username: user.username,
      email: user.email,
      bio: "hello",
      avatar_url: "https://cdn.example.com/a.png",
      allow_private_messages: false,
      privacy_avatar: "contacts",
      privacy_last_seen: "nobody",
      privacy_group_invites: "contacts",
    });
    expect(Date.parse(r.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(before.updated_at));
    expect((await http.get("/users/me", { token: user.token })).body).toEqual(r.body);

    const partial = await http.put("/users/profile", { token: user.token, body: { bio: null } });
    expect(partial.status).toBe(200);
    expect(partial.body).toMatchObject({ bio: null, name: "New Name", avatar_url: "https://cdn.example.com/a.png", privacy_last_seen: "nobody" });
  });

  test("an empty body changes nothing", async () => {
    const before = (await http.get("/users/me", { token: bob.token })).body;
    const r = await http.put("/users/profile", { token: bob.token, body: {} });
    expect(r.status).toBe(200);
    expect(r.body).toEqual(before);
  });

  test("email is not editable here", async () => {
    const r = await http.put("/users/profile", { token: bob.token, body: { email: "stolen@example.com", bio: "x" } });
    expect(r.status).toBe(200);
    expect(r.body.email).toBe(bob.email);
    expect(r.body.bio).toBe("x");
  });

  test("username: taken by another user in any case is 409; own name in another case is fine", async () => {
    const user = await createUser(server);
    const taken = await http.put("/users/profile", { token: user.token, body: { username: alice.username.toUpperCase() } });
    expect(taken.status).toBe(409);
    expect(typeof taken.body.detail).toBe("string");
    const recased = await http.put("/users/profile", { token: user.token, body: { username: user.username.toUpperCase() } });
    expect(recased.status).toBe(200);
    expect(recased.body.username).toBe(user.username.toUpperCase());
    const fresh = `renamed_${user.id}`;
    const renamed = await http.put("/users/profile", { token: user.token, body: { username: fresh } });
    expect(renamed.status).toBe(200);
    expect(renamed.body.username).toBe(fresh);
    // The old name is free again.
    const other = await createUser(server);
    expect((await http.put("/users/profile", { token: other.token, body: { username: user.username } })).status).toBe(200);
  });

  test("two users racing for one username: exactly one wins, the other gets 409", async () => {
    const [first, second] = [await createUser(server), await createUser(server)];
    const wanted = `race_${first.id}_${second.id}`;
    const answers = await Promise.all([first, second].map((u) => http.put("/users/profile", { token: u.token, body: { username: wanted } })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    expect(answers.find((a) => a.status === 409)?.body).toEqual({ detail: "Username already taken" });
  });

  test("validation answers 422 naming the field", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ username: "ab" }, "username:"],
      [{ username: "has space" }, "username:"],
      [{ name: "   " }, "name:"],
      [{ name: "x".repeat(65) }, "name:"],
      [{ bio: "x".repeat(501) }, "bio:"],
      [{ avatar_url: "javascript:alert(1)" }, "avatar_url:"],
      [{ privacy_avatar: "friends" }, "privacy_avatar:"],
      [{ privacy_last_seen: null }, "privacy_last_seen:"],
      [{ allow_private_messages: "yes" }, "allow_private_messages:"],
    ];
    for (const [body, field] of cases) {
      const r = await http.put("/users/profile", { token: bob.token, body });
      expect(r.status).toBe(422);
      expect(r.body.detail).toStartWith(field);
    }
  });
});

describe("GET /users/{user_id}", () => {
  test("another user: UserRead without privacy settings, email or 2FA state", async () => {
    const r = await http.get(`/users/${bob.id}`, { token: alice.token });
    expect(r.status).toBe(200);
    expect(Object.keys(r.body).sort()).toEqual([...USER_READ_KEYS].sort());
    expect(r.body).toMatchObject({ id: bob.id, username: bob.username, name: bob.name, email: null, twofa_enabled: null, email_verified: true });
  });
  test("another user who has the caller in their contacts shows their email", async () => {
    const owner = await createUser(server);
    expect((await http.post(`/users/${alice.id}/contacts`, { token: owner.token })).status).toBe(204);
    expect((await http.get(`/users/${owner.id}`, { token: alice.token })).body.email).toBe(owner.email);
    // The reverse direction does not: alice did not add owner.
    expect((await http.get(`/users/${alice.id}`, { token: owner.token })).body.email).toBeNull();
  });
  test("the caller's own id answers the same as /users/me", async () => {
    const r = await http.get(`/users/${alice.id}`, { token: alice.token });
    expect(r.status).toBe(200);
    expect(r.body).toEqual((await http.get("/users/me", { token: alice.token })).body);
  });
  test("unknown user 404, malformed id 422, no token 401", async () => {
    expect((await http.get("/users/999999", { token: alice.token })).status).toBe(404);
    expect((await http.get("/users/abc", { token: alice.token })).status).toBe(422);
    expect((await http.get("/users/0", { token: alice.token })).status).toBe(422);
    expect((await http.get(`/users/${bob.id}`)).status).toBe(401);
  });
});

describe("static segments win over /users/{user_id}", () => {
  test("GET /users/me, /users/search, /users/blocked, /users/contacts", async () => {
    expect((await http.get("/users/me", { token: alice.token })).body.id).toBe(alice.id);
    const search = await http.get("/users/search?query=x", { token: alice.token });
    expect(search.status).toBe(200);
    expect(search.body).toEqual([]);
    const blocked = await http.get("/users/blocked", { token: alice.token });
    expect(blocked.status).toBe(200);
    expect(Array.isArray(blocked.body)).toBe(true);
    const contacts = await http.get("/users/contacts", { token: alice.token });
    expect(contacts.status).toBe(200);
    expect(Array.isArray(contacts.body)).toBe(true);
  });
  test("POST /users/contacts/by-email does not reach /users/{user_id}/contacts", async () => {
    const target = await createUser(server);
    const viewer = await createUser(server);
    const r = await http.post("/users/contacts/by-email", { token: viewer.token, body: { email: target.email } });
    expect(r.status).toBe(204);
    expect((await http.get("/users/contacts", { token: viewer.token })).body.map((u: { id: number }) => u.id)).toEqual([target.id]);
  });
  test("GET /users/profile never reaches /users/{user_id}: 405, only PUT exists there", async () => {
    const r = await http.get("/users/profile", { token: alice.token });
    expect(r.status).toBe(405);
    expect(r.headers.get("allow")).toBe("PUT");
    expect(r.body).toEqual({ detail: "Method not allowed" });
  });
  test("DELETE /users/contacts/by-email is 405, not a contact removal", async () => {
    const r = await http.delete("/users/contacts/by-email", { token: alice.token });
    expect(r.status).toBe(405);
  });
});
