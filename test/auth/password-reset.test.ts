import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser } from "../helpers/users";
import { linkToken, SmtpSink } from "./support";

let sink: SmtpSink;
let server: TestServer;
let http: ReturnType<typeof client>;

beforeAll(async () => {
  sink = await SmtpSink.start();
  server = await startTestServer({ env: { SMTP_URL: sink.url } });
  http = client(server.url);
});
afterAll(async () => {
  await server.stop();
  await sink.close();
});

describe("password reset", () => {
  test("the mailed link sets a new password and revokes every session", async () => {
    const u = await createUser(server);
    const req = await http.post("/auth/request-password-reset", { body: { email: u.email } });
    expect(req.status).toBe(200);
    const token = linkToken(await sink.next(u.email, "Reset"), "reset-password");

    const reset = await http.post("/auth/reset-password", { body: { token, new_password: "a-brand-new-password" } });
    expect(reset.status).toBe(200);
    expect(typeof reset.body.message).toBe("string");

    expect((await http.get("/auth/me", { token: u.token })).status).toBe(401);
    expect((await http.post("/auth/refresh", { body: { refresh_token: u.refreshToken } })).status).toBe(401);
    expect((await http.post("/auth/login", { body: { email: u.email, password: u.password } })).status).toBe(401);
    expect((await http.post("/auth/login", { body: { email: u.email, password: "a-brand-new-password" } })).status).toBe(200);

    const again = await http.post("/auth/reset-password", { body: { token, new_password: "yet-another-password" } });
    expect(again.status).toBe(400);
  });

  test("the answer does not reveal whether the email has an account", async () => {
    const u = await createUser(server);
    const known = await http.post("/auth/request-password-reset", { body: { email: u.email } });
    const unknown = await http.post("/auth/request-password-reset", { body: { email: `nobody.${u.email}` } });
    expect(known.status).toBe(200);
    expect(unknown.status).toBe(200);
    expect(unknown.body).toEqual(known.body);
    await sink.next(u.email, "Reset");
    expect(sink.pendingFor(`nobody.${u.email}`)).toHaveLength(0);
  });

  test("a newer reset leaves older links working until one is used; then all are dead", async () => {
    const u = await createUser(server);
    await http.post("/auth/request-password-reset", { body: { email: u.email } });
    const first = linkToken(await sink.next(u.email, "Reset"), "reset-password");
    await http.post("/auth/request-password-reset", { body: { email: u.email } });
    const second = linkToken(await sink.next(u.email, "Reset"), "reset-password");
    expect(first).not.toBe(second);
    expect((await http.post("/auth/reset-password", { body: { token: second, new_password: "password-two" } })).status).toBe(200);
    expect((await http.post("/auth/reset-password", { body: { token: first, new_password: "password-one" } })).status).toBe(400);
  });

  test("bad, expired or verification tokens: 400; short new password: 422", async () => {
    const u = await createUser(server);
    expect((await http.post("/auth/reset-password", { body: { token: "unknown", new_password: "long-enough" } })).status).toBe(400);
    await http.post("/auth/request-password-reset", { body: { email: u.email } });
    const token = linkToken(await sink.next(u.email, "Reset"), "reset-password");
    expect((await http.post("/auth/reset-password", { body: { token, new_password: "short" } })).status).toBe(422);
    await server.app.db.execute(sql`update email_tokens set expires_at = now() - interval '1 second' where purpose = 'reset_password' and used_at is null`);
    expect((await http.post("/auth/reset-password", { body: { token, new_password: "long-enough" } })).status).toBe(400);
  });

  test("20 concurrent resets with one token: exactly one succeeds", async () => {
    const u = await createUser(server);
    await http.post("/auth/request-password-reset", { body: { email: u.email } });
    const token = linkToken(await sink.next(u.email, "Reset"), "reset-password");
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => http.post("/auth/reset-password", { body: { token, new_password: `new-password-${i}` } })),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 400)).toHaveLength(19);
  });
});

describe("without SMTP_URL", () => {
  test("mails go to DATA_DIR/outbox with the link; no token or password in logs or outbox beyond it", async () => {
    const local = await startTestServer();
    try {
      const h = client(local.url);
      const acc = { email: `outbox${Date.now()}@example.com`, username: `outbox${Date.now()}`, name: "Out Box", password: "outbox-password-1" };
      expect((await h.post("/auth/register", { body: acc })).status).toBe(201);
      const dir = join(local.dataDir, "outbox");
      const files = readdirSync(dir);
      expect(files).toHaveLength(1);
      const mail = readFileSync(join(dir, files[0] ?? ""), "utf8");
      expect(mail).toContain(`To: ${acc.email}`);
      const token = linkToken({ to: [], subject: "", raw: mail, text: mail }, "verify-email");
      expect(mail.split(token)).toHaveLength(2); // exactly once: in the link
      expect(mail).not.toContain(acc.password);
      const logs = local.logs.join("\n");
      expect(logs).toContain("mail written to outbox");
      expect(logs).not.toContain(token);
      expect(logs).not.toContain(acc.password);
      expect((await h.post("/auth/verify-email", { body: { token } })).status).toBe(200);
    } finally {
      await local.stop();
    }
  });
});
