/** The account mails of CONTRACT §3 and a way to send them without the caller waiting. */
import type { App } from "../app";
import type { Mail } from "./mailer";

export function verificationMail(app: App, to: string, name: string, token: string): Mail {
  const link = `${app.config.FRONTEND_URL}/verify-email?token=${encodeURIComponent(token)}`;
  return {
    to,
    subject: "Verify your Parley email address",
    text: `Hello ${name},\n\nconfirm your email address by opening this link (valid for 24 hours):\n\n${link}\n\nIf you did not create a Parley account, ignore this mail.\n`,
  };
}

export function passwordResetMail(app: App, to: string, name: string, token: string): Mail {
  const link = `${app.config.FRONTEND_URL}/reset-password?token=${encodeURIComponent(token)}`;
  return {
    to,
    subject: "Reset your Parley password",
    text: `Hello ${name},\n\nset a new password by opening this link (valid for 1 hour, usable once):\n\n${link}\n\nIf you did not ask for this, ignore this mail; your password stays as it is.\n`,
  };
}

const pending = new WeakMap<App, Set<Promise<void>>>();

/**
 * Runs `work` after the response: endpoints that must not reveal whether an account exists answer
 * at once whatever happens here. Failures are logged (without the mail body). The app waits for
 * unfinished work before it closes.
 */
export function inBackground(app: App, what: string, work: () => Promise<void>): void {
  let set = pending.get(app);
  if (!set) {
    const created = new Set<Promise<void>>();
    pending.set(app, created);
    app.onClose(() => Promise.allSettled([...created]).then(() => undefined));
    set = created;
  }
  const running = set;
  const task = work()
    .catch((err: unknown) => app.log.warn(`${what} failed`, { error: err instanceof Error ? err.message : String(err) }))
    .finally(() => running.delete(task));
  running.add(task);
}
