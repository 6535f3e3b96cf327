/** Recognising PostgreSQL errors whichever driver raised them. */

/** 23505 from either driver, also when drizzle wraps it (DrizzleQueryError keeps it as `cause`). */
export function isUniqueViolation(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 3; e = (e as { cause?: unknown }).cause, depth++)
    if ((e as { code?: unknown }).code === "23505") return true;
  return false;
}
