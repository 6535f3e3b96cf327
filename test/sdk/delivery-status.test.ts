/**
 * Regression (the Playwright test, about one run in five): the /app page replaced a message with the
 * send's HTTP answer ("sent") after the realtime `message_read` had already marked it read, so the
 * receipt went back to "✓". The page now merges statuses forward only.
 */
import { expect, test } from "bun:test";
import { furtherStatus } from "../../src/web/client/delivery-status";

test("a later, older copy of a message never takes its receipt back", () => {
  expect(furtherStatus("read", "sent")).toBe("read");
  expect(furtherStatus("delivered", "sent")).toBe("delivered");
  expect(furtherStatus("read", "delivered")).toBe("read");
});

test("newer statuses still move it forward", () => {
  expect(furtherStatus("sent", "delivered")).toBe("delivered");
  expect(furtherStatus("delivered", "read")).toBe("read");
  expect(furtherStatus("sent", "sent")).toBe("sent");
});
