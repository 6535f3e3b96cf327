/**
 * Two people, two browser contexts, one chat: a message typed in one page appears in the other
 * without a reload, and the read receipt comes back to the sender ("✓✓ read").
 */
import { expect, test, type APIRequestContext, type Browser, type Page } from "@playwright/test";

interface Person {
  email: string;
  password: string;
  username: string;
  token: string;
  id: number;
}

async function register(request: APIRequestContext, who: string): Promise<Person> {
  const tag = `${who}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const person = { email: `${tag}@example.com`, password: "correct-horse-battery", username: tag };
  const reg = await request.post("/api/v1/auth/register", { data: { ...person, name: who } });
  expect(reg.status()).toBe(201);
  const login = await request.post("/api/v1/auth/login", { data: { email: person.email, password: person.password } });
  expect(login.status()).toBe(200);
  const token = ((await login.json()) as { access_token: string }).access_token;
  const me = await request.get("/api/v1/auth/me", { headers: { authorization: `Bearer ${token}` } });
  return { ...person, token, id: ((await me.json()) as { id: number }).id };
}

async function openApp(browser: Browser, person: Person): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto("/app");
  await page.fill("#login-email", person.email);
  await page.fill("#login-password", person.password);
  await page.click("#login-submit");
  await expect(page.locator("#me")).toContainText(`@${person.username}`);
  await expect(page.locator("#connection")).toHaveText("live");
  return page;
}

test("a message typed in one browser appears in the other, and the read receipt comes back", async ({ browser, request }) => {
  const alice = await register(request, "Alice");
  const bob = await register(request, "Bob");
  const created = await request.post("/api/v1/chats", {
    headers: { authorization: `Bearer ${alice.token}` },
    data: { type: "private", member_ids: [bob.id] },
  });
  expect(created.ok()).toBe(true);
  const chatId = ((await created.json()) as { id: number }).id;

  const alicePage = await openApp(browser, alice);
  const bobPage = await openApp(browser, bob);

  await alicePage.click(`#chats li[data-chat-id="${chatId}"]`);
  await bobPage.click(`#chats li[data-chat-id="${chatId}"]`);
  await expect(alicePage.locator("#compose-text")).toBeEnabled();
  await expect(bobPage.locator("#compose-text")).toBeEnabled();

  const text = `Hello Bob ${Date.now()}`;
  await alicePage.fill("#compose-text", text);
  await alicePage.click("#compose-send");

  // Bob's page shows it live (no reload happened: the page object is the same document).
  const bobMessage = bobPage.locator(".message", { hasText: text });
  await expect(bobMessage).toBeVisible();

  // Bob's page marked it read when shown; Alice's page hears message_read.
  const aliceMessage = alicePage.locator(".message.own", { hasText: text });
  await expect(aliceMessage.locator(".status")).toHaveText("✓✓ read");

  // And the other way round.
  const reply = `Hi Alice ${Date.now()}`;
  await bobPage.fill("#compose-text", reply);
  await bobPage.press("#compose-text", "Enter");
  await expect(alicePage.locator(".message", { hasText: reply })).toBeVisible();
  await expect(bobPage.locator(".message.own", { hasText: reply }).locator(".status")).toHaveText("✓✓ read");
});
