/**
 * Outgoing mail. Without SMTP_URL mails are logged (subject and recipient only) and written to
 * DATA_DIR/outbox/ as .eml-like text files, so `bun run dev` needs no mail server.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../env";
import type { Logger } from "../lib/logger";
import { randomToken } from "../lib/random";

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  readonly kind: "smtp" | "outbox";
  /** Throws MailUnavailableError when the mail server cannot be reached. */
  send(mail: Mail): Promise<void>;
}

export class MailUnavailableError extends Error {}

export function createMailer(config: Config, log: Logger): Mailer {
  if (config.SMTP_URL) return createSmtpMailer(config.SMTP_URL, config.MAIL_FROM);
  const dir = join(config.DATA_DIR, "outbox");
  return {
    kind: "outbox",
    async send(mail) {
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${Date.now()}-${randomToken(48)}.eml`);
      writeFileSync(file, `From: ${config.MAIL_FROM}\nTo: ${mail.to}\nSubject: ${mail.subject}\n\n${mail.text}\n`);
      log.info("mail written to outbox", { to: mail.to, subject: mail.subject, file });
    },
  };
}

function createSmtpMailer(url: string, from: string): Mailer {
  let transport: Promise<import("nodemailer").Transporter> | undefined;
  const getTransport = () =>
    (transport ??= import("nodemailer").then((m) =>
      m.default.createTransport(withTimeouts(url)),
    ));
  return {
    kind: "smtp",
    async send(mail) {
      try {
        await (await getTransport()).sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text });
      } catch (err) {
        throw new MailUnavailableError(err instanceof Error ? err.message : String(err));
      }
    },
  };
}

/** Fail fast (503) instead of hanging when the SMTP server does not answer. */
function withTimeouts(url: string): string {
  const u = new URL(url);
  for (const [k, v] of [["connectionTimeout", "5000"], ["greetingTimeout", "5000"], ["socketTimeout", "10000"]] as const)
    if (!u.searchParams.has(k)) u.searchParams.set(k, v);
  return u.toString();
}
