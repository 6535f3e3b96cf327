import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { users } from "../../src/db/schema";
import { client } from "../helpers/http";
import { startTestServer, type TestServer } from "../helpers/server";
import { linkToken, SmtpSink, uniqueAccount } from "./support";

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

describe("register and verify email", () => {
  test("register answers 201, mails a link; following it verifies and login works", async () => {
    const acc = uniqueAccount();
    const reg = await http.post("/auth/register", { body: acc });
    expect(reg.status).toBe(201);
    expect(typeof reg.body.message).toBe("string");

    const before = await http.post("/auth/login", { body: { email: acc.email, password: acc.password } });
    expect(before.status).toBe(403);
    expect(before.body).toEqual({ detail: "Email not verified" });

    const mail = await sink.next(acc.email, "Verify");
    const token = linkToken(mail, "verify-email");
    expect(token.length).toBeGreaterThanOrEqual(22); // ≥ 128 bits in base64url

    const verified = await http.post("/auth/verify-email", { body: { token } });
    expect(verified.status).toBe(200);
    expect(verified.body).toEqual({ message: "Email verified." });

    const login = await http.post("/auth/login", { body: { email: acc.email.toUpperCase(), password: acc.password } });
    expect(login.status).toBe(200);
    expect(login.body.token_type).toBe("bearer");
    const me = await http.get("/auth/me", { token: login.body.access_token });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ email: acc.email, username: acc.username, email_verified: true, twofa_enabled: false });

    const again = await http.post("/auth/verify-email", { body: { token } });
    expect(again.status).toBe(400);
  });

  test("email is stored lower-case; taken email or username (any case) is 409", async () => {
    const acc = uniqueAccount();
    expect((await http.post("/auth/register", { body: { ...acc, email: acc.email.toUpperCase() } })).status).toBe(201);
    await sink.next(acc.email);
    const sameEmail = await http.post("/auth/register", { body: { ...acc, username: `${acc.username}x` } });
    expect(sameEmail.status).toBe(409);
    const sameUsername = await http.post("/auth/register", {
      body: { ...acc, email: `other.${acc.email}`, username: acc.username.toUpperCase() },
    });
    expect(sameUsername.status).toBe(409);
  });

  test("registrations racing for one email or username: one 201, the others 409 naming what is taken", async () => {
    // All pass the first check while they hash the password; the unique index decides.
    const acc = uniqueAccount();
    const sameEmail = await Promise.all([0, 1, 2, 3].map((i) => http.post("/auth/register", { body: { ...acc, username: `${acc.username}e${i}` } })));
    expect(sameEmail.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
    for (const r of sameEmail.filter((r) => r.status === 409)) expect(r.body).toEqual({ detail: "Email already registered" });
    const other = uniqueAccount();
    const sameUsername = await Promise.all([0, 1, 2].map((i) => http.post("/auth/register", { body: { ...other, email: `u${i}.${other.email}` } })));
    expect(sameUsername.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    for (const r of sameUsername.filter((r) => r.status === 409)) expect(r.body).toEqual({ detail: "Username already taken" });
  });

  test("unknown or malformed verification token: 400", async () => {
    expect((await http.post("/auth/verify-email", { body: { token: "nope" } })).status).toBe(400);
    expect((await http.post("/auth/verify-email", { body: { token: "" } })).status).toBe(422);
  });

  test("expired verification token: 400", async () => {
    const acc = uniqueAccount();
    await http.post("/auth/register", { body: acc });
    const token = linkToken(await sink.next(acc.email), "verify-email");
    await server.app.db.execute(
      // Age every token of this user past its 24 h lifetime.
      sql`update email_tokens set expires_at = now() - interval '1 second'
        where user_id = (select id from users where email = ${acc.email})`,
    );
    expect((await http.post("/auth/verify-email", { body: { token } })).status).toBe(400);
  });

  test("resend-verification mails a new working link; the answer is the same for unknown emails", async () => {
    const acc = uniqueAccount();
    await http.post("/auth/register", { body: acc });
    await sink.next(acc.email);
    const known = await http.post("/auth/resend-verification", { body: { email: acc.email } });
    const unknown = await http.post("/auth/resend-verification", { body: { email: `ghost.${acc.email}` } });
    expect(known.status).toBe(200);
    expect(unknown.status).toBe(200);
    expect(unknown.body).toEqual(known.body);
    const token = linkToken(await sink.next(acc.email), "verify-email");
    expect((await http.post("/auth/verify-email", { body: { token } })).status).toBe(200);
    // Verified accounts get nothing more, and the answer still does not tell.
    const afterVerify = await http.post("/auth/resend-verification", { body: { email: acc.email } });
    expect(afterVerify.body).toEqual(known.body);
  });

  test("20 concurrent uses of one verification token: exactly one succeeds", async () => {
    const acc = uniqueAccount();
    await http.post("/auth/register", { body: acc });
    const token = linkToken(await sink.next(acc.email), "verify-email");
    const results = await Promise.all(Array.from({ length: 20 }, () => http.post("/auth/verify-email", { body: { token } })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 400)).toHaveLength(19);
  });

  test("the database keeps no plaintext token or password", async () => {
    const acc = uniqueAccount();
    await http.post("/auth/register", { body: acc });
    const token = linkToken(await sink.next(acc.email), "verify-email");
    const dump = JSON.stringify(await server.app.db.execute(sql`select * from email_tokens`));
    const [user] = await server.app.db.select().from(users).where(eq(users.email, acc.email));
    expect(dump).not.toContain(token);
    expect(user?.passwordHash).toStartWith("$argon2id$");
    expect(user?.passwordHash).not.toContain(acc.password);
    expect(server.logs.join("\n")).not.toContain(token);
    expect(server.logs.join("\n")).not.toContain(acc.password);
  });
});

describe("mail server unreachable", () => {
  test("register answers 503 but the account exists; a later resend delivers a working link", async () => {
    const downSink = await SmtpSink.start();
    const port = downSink.port;
    await downSink.close();
    const down = await startTestServer({ env: { SMTP_URL: `smtp://127.0.0.1:${port}` } });
    try {
      const h = client(down.url);
      const acc = uniqueAccount();
      const reg = await h.post("/auth/register", { body: acc });
      expect(reg.status).toBe(503);
      expect(typeof reg.body.detail).toBe("string");
      expect((await h.post("/auth/register", { body: acc })).status).toBe(409);
      expect((await h.post("/auth/login", { body: { email: acc.email, password: acc.password } })).status).toBe(403);

      const up = await SmtpSink.start(port);
      try {
        expect((await h.post("/auth/resend-verification", { body: { email: acc.email } })).status).toBe(200);
        const token = linkToken(await up.next(acc.email), "verify-email");
        expect((await h.post("/auth/verify-email", { body: { token } })).status).toBe(200);
        expect((await h.post("/auth/login", { body: { email: acc.email, password: acc.password } })).status).toBe(200);
      } finally {
        await up.close();
      }
    } finally {
      await down.stop();
    }
  });
});
