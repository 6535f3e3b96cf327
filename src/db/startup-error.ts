/**
 * One line for the database problems that stop start-up (`bun src/main.ts`, `bun run db:migrate`):
 * they are configuration errors to the operator (CONTRACT §1), so no stack trace. Anything else
 * (a failing migration, a bug) keeps its stack.
 */
import { DataDirInUseError } from "./data-dir-lock";

/** Driver and socket error codes that mean "could not reach or log in to the database". */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "SASL_SIGNATURE_MISMATCH",
  "AUTH_TYPE_NOT_IMPLEMENTED",
]);

/**
 * SQLSTATEs of the same kind: connection exceptions (class 08), authorization (28), a database
 * that does not exist (3D000), too many connections (53300), the server starting or stopping (57P03).
 */
const isConnectionSqlState = (code: string) => /^(08|28)[0-9A-Z]{3}$/.test(code) || code === "3D000" || code === "53300" || code === "57P03";

/** The line to print for `err`, or null when it is not a start-up problem of the database. */
export function databaseStartupError(err: unknown, env: { DATA_DIR: string; DATABASE_URL?: string | undefined }): string | null {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof DataDirInUseError) {
      return `start-up error: DATA_DIR ${env.DATA_DIR} is in use by ${e.pid === null ? "another process" : `process ${e.pid}`} (lock file ${e.lockFile})`;
    }
    const code = (e as { code?: unknown }).code;
    if (!env.DATABASE_URL || typeof code !== "string") continue;
    if (CONNECTION_CODES.has(code)) return `start-up error: cannot connect to DATABASE_URL ${withoutPassword(env.DATABASE_URL)}: ${code}`;
    if (isConnectionSqlState(code)) return `start-up error: cannot connect to DATABASE_URL ${withoutPassword(env.DATABASE_URL)}: ${e.message} (${code})`;
  }
  return null;
}

/** The URL with its password (and any `password` query parameter) removed, for messages. */
export function withoutPassword(url: string): string {
  try {
    const u = new URL(url);
    u.password = "";
    u.searchParams.delete("password");
    return u.toString();
  } catch {
    return "(unparsable URL)";
  }
}
