/**
 * User search (CONTRACT §4) built to stay index-bound at a million users. One round trip of five
 * small, independently limited branches instead of one sorted scan over every match:
 *   0. exact username         (unique index on lower(username))
 *   1. exact email            (unique index on email)
 *   2. username prefix        (byte-ordered index: a range scan that is already sorted)
 *   3. name prefix            (same, on lower(name))
 *   4. substring of either    (GIN trigram indexes for 3+ characters; unsorted, stops at the limit)
 * Results come back in that order, so an exact username is always first. Branch 4 with a rare
 * 2-character query is the one case no index can serve (trigrams need 3 characters); see
 * docs/decisions.md.
 */
import { sql, type SQL } from "drizzle-orm";
import { queryRows, type DbOrTx } from "../../db/client";
import { userCardsFor } from "./cards";
import type { TUserSearchRead } from "./schemas";
import { escapeLike } from "../../db/sql-fragments";

/** Trim, drop one leading `@`, trim again; null when under 2 characters. */
export function normalizeSearchTerm(raw: string): string | null {
  let term = raw.trim();
  if (term.startsWith("@")) term = term.slice(1).trim();
  return [...term].length < 2 ? null : term;
}


interface Hit {
  id: number;
  rank: number;
  key: string;
}

/** The five branches as one statement: `(id, rank, key)` rows, unordered across branches. */
export function searchHitsQuery(viewerId: number, term: string, limit: number): SQL {
  const pattern = escapeLike(term);
  // Prefix branches use an explicit range on the C-collated index so the index is usable even
  // under a generic prepared-statement plan; the LIKE only rechecks.
  return sql`
      (select id, 0 as rank, '' as key from users where lower(username) = lower(${term}) and id <> ${viewerId})
      union all
      (select id, 1, email from users where email = lower(${term}) and id <> ${viewerId})
      union all
      (select id, 2, lower(username) from users
        where (lower(username) collate "C") >= lower(${term}) and (lower(username) collate "C") < lower(${term}) || chr(1114111)
          and lower(username) like (lower(${pattern}) || '%') and id <> ${viewerId}
        order by (lower(username) collate "C") limit ${limit})
      union all
      (select id, 3, lower(name) from users
        where (lower(name) collate "C") >= lower(${term}) and (lower(name) collate "C") < lower(${term}) || chr(1114111)
          and lower(name) like (lower(${pattern}) || '%') and id <> ${viewerId}
        order by (lower(name) collate "C") limit ${limit})
      union all
      (select id, 4, lower(username) from users
        where (lower(username) like ('%' || lower(${pattern}) || '%') or lower(name) like ('%' || lower(${pattern}) || '%'))
          and id <> ${viewerId}
        limit ${limit * 3 + 2})
    `;
}

export async function searchUsers(db: DbOrTx, viewerId: number, query: string, limit: number): Promise<TUserSearchRead[]> {
  const term = normalizeSearchTerm(query);
  if (term === null) return [];
  const hits = await queryRows<Hit>(db, searchHitsQuery(viewerId, term, limit));
  const best = new Map<number, Hit>();
  const typedEmail = new Map<number, string>();
  for (const raw of hits) {
    const hit = { id: Number(raw.id), rank: Number(raw.rank), key: String(raw.key) };
    if (hit.rank === 1) typedEmail.set(hit.id, hit.key);
    const seen = best.get(hit.id);
    if (!seen || hit.rank < seen.rank) best.set(hit.id, hit);
  }
  const ordered = [...best.values()]
    .sort((a, b) => a.rank - b.rank || (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id - b.id))
    .slice(0, limit);
  const cards = await userCardsFor(
    db,
    viewerId,
    ordered.map((h) => h.id),
  );
  return ordered.flatMap((h) => {
    const card = cards.get(h.id);
    if (!card) return [];
    // Whoever typed the exact email already knows it.
    const email = card.summary.email ?? typedEmail.get(h.id) ?? null;
    return [{ ...card.summary, email }];
  });
}
