/** The /app page and its bundled script are served by the server itself. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../helpers/server";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.stop());

test("GET /app is the page, /app/main.js the bundled client using the SDK", async () => {
  const page = await fetch(`${server.url}/app`);
  expect(page.status).toBe(200);
  expect(page.headers.get("content-type")).toStartWith("text/html");
  const html = await page.text();
  expect(html).toContain('src="/app/main.js"');
  expect(html).toContain('id="login-email"');

  const js = await fetch(`${server.url}/app/main.js`);
  expect(js.status).toBe(200);
  expect(js.headers.get("content-type")).toStartWith("text/javascript");
  const code = await js.text();
  expect(code).toContain("/trpc");
  expect(code).toContain("/ws");
  expect(code).not.toContain("drizzle");
});

test("other methods and unknown files under /app", async () => {
  expect((await fetch(`${server.url}/app/`, { method: "POST" })).status).toBe(405);
  const missing = await fetch(`${server.url}/app/nope.js`);
  expect(missing.status).toBe(404);
  expect(await missing.json()).toEqual({ detail: "Not found" });
});
