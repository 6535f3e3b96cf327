/** ISO-8601 UTC with `Z` (CONTRACT §2). */
export const iso = (d: Date): string => d.toISOString();
export const isoOrNull = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);
