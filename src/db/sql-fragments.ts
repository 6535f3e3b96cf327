/** Small SQL building blocks shared by the raw read queries. */
import { sql, type SQL } from "drizzle-orm";

/** `1, 2, 3` as bound parameters, for `in (...)` and `array[...]`. */
export const idList = (ids: number[]): SQL =>
  sql.join(
    ids.map((id) => sql`${id}`),
    sql`, `,
  );

/**
 * A list of ids as ONE array parameter (`unnest(${intArray(ids)}::int[])`, `= any(...)`): one
 * prepared statement whatever the length, where `idList` makes one per distinct length.
 */
export const intArray = (ids: number[]): SQL => sql`${intArrayText(ids)}`;

/** The array literal `{1,2,3}` itself, for a prepared statement's placeholder (`$1::int[]`). */
export const intArrayText = (ids: number[]): string => `{${ids.filter((id) => Number.isSafeInteger(id)).join(",")}}`;

/** Escapes LIKE metacharacters (`%`, `_`, `\`) for the default `\` escape. */
export const escapeLike = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * Case-insensitive "contains" pattern for `lower(column) like ...`, lower-cased by PostgreSQL like
 * the column: JavaScript's toLowerCase disagrees with `lower()` on some letters (Turkish İ becomes
 * i plus a combining dot, a Greek final Σ becomes ς), and such text was never found as written.
 */
export const containsPattern = (text: string): SQL => sql`lower(${`%${escapeLike(text)}%`})`;

/**
 * A page size written into the statement instead of bound: PostgreSQL plans a prepared statement
 * once for all values after a few runs, and with `limit $n` that plan assumes a tenth of the table.
 */
export function literalLimit(limit: number): SQL {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) throw new Error(`not a page size: ${limit}`);
  return sql.raw(String(limit));
}
