/**
 * Test users: registered through REST, marked verified directly in the database (the verification
 * mail flow has its own tests in test/auth), then logged in through REST.
 */
import { eq } from "drizzle-orm";
import { users } from "../../src/db/schema";
import { api } from "./http";
import type { TestServer } from "./server";

export interface TestUser {
  id: number;
  email: string;
  username: string;
  name: string;
  password: string;
  token: string;
  refreshToken: string;
}

let counter = 0;

export async function createUser(server: TestServer, overrides: Partial<Pick<TestUser, "email" | "username" | "name" | "password">> = {}): Promise<TestUser> {
  counter += 1;
  const tag = `${Date.now().toString(36)}${counter}${Math.random().toString(36).slice(2, 5)}`;
  const username = overrides.username ?? `u_${tag}`;
  const email = overrides.email ?? `${username.toLowerCase()}@example.com`;
  const name = overrides.name ?? `User ${tag}`;
  const password = overrides.password ?? "correct-horse-battery";
  const reg = await api(server.url, "POST", "/auth/register", { body: { email, name, username, password } });
  if (reg.status !== 201) throw new Error(`register failed: ${reg.status} ${reg.text}`);
  await server.app.db.update(users).set({ emailVerified: true }).where(eq(users.email, email.toLowerCase()));
  const login = await api(server.url, "POST", "/auth/login", { body: { email, password } });
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${login.text}`);
  const me = await api(server.url, "GET", "/auth/me", { token: login.body.access_token });
  return { id: me.body.id, email: email.toLowerCase(), username, name, password, token: login.body.access_token, refreshToken: login.body.refresh_token };
}
