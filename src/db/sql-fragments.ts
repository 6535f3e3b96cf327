/** Small SQL building blocks shared by the raw read queries. */
import { sql, type SQL } from "drizzle-orm";

/** `1, 2, 3` as bound parameters, for `in (...)` and `array[...]`. */
export const idList = (ids: number[]): SQL =>
  sql.join(
    ids.map((id) => sql`${id}`),
    sql`, `,
  );

/** Escapes LIKE metacharacters (`%`, `_`, `\`) for the default `\` escape. */
export const escapeLike = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** Case-insensitive "contains" pattern for `lower(column) like ...`. */
export const containsPattern = (text: string): string => `%${escapeLike(text.toLowerCase())}%`;
