import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { api, client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser, type TestUser } from "../helpers/users";

let server: TestServer;
let http: ReturnType<typeof client>;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  http = client(server.url);
  alice = await createUser(server, { name: "Alice Contacts" });
  bob = await createUser(server, { name: "bob Contacts" });
  carol = await createUser(server, { name: "Carol Contacts" });
}, 180_000);
afterAll(() => server.stop());

const ids = (body: { id: number }[]) => body.map((u) => u.id);

describe("contacts", () => {
  test("add by id is idempotent and the list shows UserSearchRead sorted by name", async () => {
    const owner = await createUser(server);
    for (let i = 0; i < 2; i++) {
      const r = await http.post(`/users/${carol.id}/contacts`, { token: owner.token });
      expect(r.status).toBe(204);
      expect(r.text).toBe("");
    }
    expect((await http.post(`/users/${bob.id}/contacts`, { token: owner.token })).status).toBe(204);
    expect((await http.post(`/users/${alice.id}/contacts`, { token: owner.token })).status).toBe(204);
    const list = await http.get("/users/contacts", { token: owner.token });
    expect(list.status).toBe(200);
    expect(ids(list.body)).toEqual([alice.id, bob.id, carol.id]);
    expect(Object.keys(list.body[0]).sort()).toEqual(["avatar_url", "email", "id", "name", "username"]);
    // Contacts are one-directional: nobody added the owner.
    expect(ids((await http.get("/users/contacts", { token: alice.token })).body)).not.toContain(owner.id);
  });

  test("remove is idempotent", async () => {
    const owner = await createUser(server);
    await http.post(`/users/${bob.id}/contacts`, { token: owner.token });
    for (let i = 0; i < 2; i++) expect((await http.delete(`/users/${bob.id}/contacts`, { token: owner.token })).status).toBe(204);
    expect((await http.get("/users/contacts", { token: owner.token })).body).toEqual([]);
    // Removing someone who never was a contact is fine too.
    expect((await http.delete(`/users/${carol.id}/contacts`, { token: owner.token })).status).toBe(204);
  });

  test("add by email: any case, idempotent; unknown email 404; own email 422; invalid 422", async () => {
    const owner = await createUser(server);
    for (let i = 0; i < 2; i++)
      expect((await http.post("/users/contacts/by-email", { token: owner.token, body: { email: ` ${bob.email.toUpperCase()} ` } })).status).toBe(204);
    expect(ids((await http.get("/users/contacts", { token: owner.token })).body)).toEqual([bob.id]);
    const unknown = await http.post("/users/contacts/by-email", { token: owner.token, body: { email: "nobody-here@example.com" } });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ detail: "User not found" });
    expect((await http.post("/users/contacts/by-email", { token: owner.token, body: { email: owner.email } })).status).toBe(422);
    const invalid = await http.post("/users/contacts/by-email", { token: owner.token, body: { email: "not-an-email" } });
    expect(invalid.status).toBe(422);
    expect(invalid.body.detail).toStartWith("email:");
    expect((await http.post("/users/contacts/by-email", { token: owner.token, body: {} })).status).toBe(422);
  });

  test("self 422, unknown user 404, malformed id 422", async () => {
    for (const [method, path] of [
      ["post", "contacts"],
      ["delete", "contacts"],
    ] as const) {
      expect((await http[method](`/users/${alice.id}/${path}`, { token: alice.token })).status).toBe(422);
      const missing = await http[method](`/users/999999/${path}`, { token: alice.token });
      expect(missing.status).toBe(404);
      expect(missing.body).toEqual({ detail: "User not found" });
      expect((await http[method](`/users/nope/${path}`, { token: alice.token })).status).toBe(422);
    }
  });
});

describe("blocks", () => {
  test("block and unblock are idempotent; /users/blocked lists the newest block first", async () => {
    const blocker = await createUser(server);
    for (let i = 0; i < 2; i++) expect((await http.post(`/users/${bob.id}/block`, { token: blocker.token })).status).toBe(204);
    expect((await http.post(`/users/${carol.id}/block`, { token: blocker.token })).status).toBe(204);
    const list = await http.get("/users/blocked", { token: blocker.token });
    expect(list.status).toBe(200);
    expect(ids(list.body)).toEqual([carol.id, bob.id]);
    expect(list.body[0]).toMatchObject({ id: carol.id, username: carol.username, name: carol.name });
    for (let i = 0; i < 2; i++) expect((await http.delete(`/users/${carol.id}/block`, { token: blocker.token })).status).toBe(204);
    expect(ids((await http.get("/users/blocked", { token: blocker.token })).body)).toEqual([bob.id]);
    // Blocks are the blocker's own list.
    expect((await http.get("/users/blocked", { token: bob.token })).body).toEqual([]);
  });

  test("self 422, unknown user 404", async () => {
    for (const method of ["post", "delete"] as const) {
      expect((await http[method](`/users/${alice.id}/block`, { token: alice.token })).status).toBe(422);
      expect((await http[method]("/users/999999/block", { token: alice.token })).status).toBe(404);
    }
  });

  test("blocking does not touch contacts", async () => {
    const owner = await createUser(server);
    await http.post(`/users/${carol.id}/contacts`, { token: owner.token });
    await http.post(`/users/${carol.id}/block`, { token: owner.token });
    expect(ids((await http.get("/users/contacts", { token: owner.token })).body)).toEqual([carol.id]);
  });
});

describe("anonymous callers", () => {
  test("every users endpoint is 401 without a token", async () => {
    const calls: [string, string, unknown?][] = [
      ["GET", "/users/me"],
      ["GET", "/users/search?query=abc"],
      ["PUT", "/users/profile", { bio: "x" }],
      ["GET", "/users/blocked"],
      ["GET", "/users/contacts"],
      ["POST", `/users/${bob.id}/contacts`],
      ["POST", "/users/contacts/by-email", { email: bob.email }],
      ["DELETE", `/users/${bob.id}/contacts`],
      ["POST", `/users/${bob.id}/block`],
      ["DELETE", `/users/${bob.id}/block`],
      ["GET", `/users/${bob.id}`],
    ];
    for (const [method, path, body] of calls) {
      const r = await api(server.url, method, path, { body });
      expect(r.status).toBe(401);
      expect(r.headers.get("www-authenticate")).toBe("Bearer");
    }
  });
});
