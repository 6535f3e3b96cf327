/** An EXPLAIN answer (one row per plan line, on PGlite and PostgreSQL alike) as one text. */
export const planText = (rows: Record<string, unknown>[]): string => rows.map((r) => Object.values(r).join(" ")).join("\n");
