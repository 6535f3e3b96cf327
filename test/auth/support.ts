/**
 * Test support for the auth flows: a real SMTP server (smtp-server) that collects what Parley
 * sends, link extraction, and TOTP codes for chosen time steps.
 */
import { decodeBase32IgnorePadding } from "@oslojs/encoding";
import { generateHOTP } from "@oslojs/otp";
import { createServer } from "node:net";
import { SMTPServer } from "smtp-server";

export interface ReceivedMail {
  to: string[];
  subject: string;
  text: string;
  raw: string;
}

interface Waiter {
  matches: (mail: ReceivedMail) => boolean;
  resolve: (mail: ReceivedMail) => void;
}

/** Body of a MIME message as text (nodemailer uses quoted-printable for long lines). */
function decodeBody(raw: string): { subject: string; text: string } {
  const split = raw.indexOf("\r\n\r\n");
  const head = raw.slice(0, split);
  let body = raw.slice(split + 4);
  const subject = /^Subject: (.*)$/im.exec(head)?.[1]?.trim() ?? "";
  if (/^Content-Transfer-Encoding:\s*quoted-printable/im.test(head)) {
    body = body.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  } else if (/^Content-Transfer-Encoding:\s*base64/im.test(head)) {
    body = Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
  }
  return { subject, text: body.replace(/\r\n/g, "\n") };
}

export class SmtpSink {
  readonly mails: ReceivedMail[] = [];
  private waiters: Waiter[] = [];
  private server: SMTPServer;

  private constructor(readonly port: number) {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS", "AUTH"],
      logger: false,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => {
          const raw = Buffer.concat(chunks).toString("utf8");
          const to = session.envelope.rcptTo.map((r) => r.address.toLowerCase());
          this.deliver({ to, raw, ...decodeBody(raw) });
          callback();
        });
      },
    });
  }

  static async start(port = 0): Promise<SmtpSink> {
    const chosen = port || (await freePort());
    const sink = new SmtpSink(chosen);
    await new Promise<void>((resolve, reject) => {
      sink.server.once("error", reject);
      sink.server.listen(chosen, "127.0.0.1", () => resolve());
    });
    return sink;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  private deliver(mail: ReceivedMail) {
    const waiter = this.waiters.find((w) => w.matches(mail));
    if (waiter) {
      this.waiters = this.waiters.filter((w) => w !== waiter);
      waiter.resolve(mail);
    } else this.mails.push(mail);
  }

  /** The next mail to `to` (optionally with `subject` containing a word), already here or to come. */
  next(to: string, subjectContains = "", timeoutMs = 10_000): Promise<ReceivedMail> {
    const matches = (m: ReceivedMail) => m.to.includes(to.toLowerCase()) && m.subject.includes(subjectContains);
    const index = this.mails.findIndex(matches);
    if (index >= 0) {
      const [mail] = this.mails.splice(index, 1);
      if (mail) return Promise.resolve(mail);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no mail to ${to} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        matches,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  /** Mails to `to` received and not yet taken. */
  pendingFor(to: string): ReceivedMail[] {
    return this.mails.filter((m) => m.to.includes(to.toLowerCase()));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** The token of the `/verify-email` or `/reset-password` link in a mail body. */
export function linkToken(mail: ReceivedMail, page: "verify-email" | "reset-password", frontend = "http://localhost:5173"): string {
  const prefix = `${frontend}/${page}?token=`;
  const start = mail.text.indexOf(prefix);
  if (start < 0) throw new Error(`no ${page} link in mail: ${mail.text}`);
  const match = /^[A-Za-z0-9_%.-]+/.exec(mail.text.slice(start + prefix.length));
  if (!match) throw new Error("empty token in link");
  return decodeURIComponent(match[0]);
}

export const totpStep = (nowMs = Date.now()) => Math.floor(nowMs / 30_000);

/** The TOTP code of `secret` (base32, from 2fa/setup) at time step `step`. */
export function totpCode(secret: string, step = totpStep()): string {
  return generateHOTP(decodeBase32IgnorePadding(secret), BigInt(step), 6);
}

let counter = 0;
export function uniqueAccount(prefix = "a") {
  counter += 1;
  const tag = `${prefix}${Date.now().toString(36)}${counter}${Math.random().toString(36).slice(2, 6)}`;
  return { email: `${tag}@example.com`, username: tag, name: `Name ${tag}`, password: "correct-horse-battery" };
}
