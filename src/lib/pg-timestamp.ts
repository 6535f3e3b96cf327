/**
 * ISO-8601 strings from timestamps as the drivers answer them: postgres.js gives PostgreSQL's text
 * (`2026-03-08 10:00:00.123456+00` in a UTC session, DateStyle ISO), PGlite a Date. Read pages
 * convert hundreds per request, and `new Date(text).toISOString()` was about 6 % of the server's
 * CPU for a history page: UTC text is rewritten by slicing instead (about 5x cheaper, and flat
 * strings for JSON.stringify), to the same string (milliseconds truncated, as Date parsing does).
 * Anything else (another session time zone or DateStyle, years past 9999) goes through Date.
 */
const code = (s: string, i: number) => s.charCodeAt(i);
const [DASH, SPACE, COLON, DOT, PLUS, ZERO] = [45, 32, 58, 46, 43, 48];

/** `YYYY-MM-DD HH:MM:SS[.f{1,6}]+00`: 22 characters, or 24..29 with the fraction. */
function isUtcText(v: string): boolean {
  const n = v.length;
  if (n !== 22 && (n < 24 || n > 29 || code(v, 19) !== DOT)) return false;
  return (
    code(v, 4) === DASH && code(v, 7) === DASH && code(v, 10) === SPACE && code(v, 13) === COLON && code(v, 16) === COLON &&
    code(v, n - 3) === PLUS && code(v, n - 2) === ZERO && code(v, n - 1) === ZERO
  );
}

export function isoFromDriver(v: Date | string): string {
  if (typeof v !== "string") return v.toISOString();
  if (!isUtcText(v)) return new Date(v).toISOString();
  const n = v.length;
  const date = v.slice(0, 10);
  if (n === 22) return `${date}T${v.slice(11, 19)}.000Z`;
  // n - 23 fraction digits: 3 or more are cut to milliseconds, 1 or 2 padded.
  if (n >= 26) return `${date}T${v.slice(11, 23)}Z`;
  return `${date}T${v.slice(11, n - 3)}${n === 24 ? "00" : "0"}Z`;
}

export const isoFromDriverOrNull = (v: Date | string | null): string | null => (v === null ? null : isoFromDriver(v));
