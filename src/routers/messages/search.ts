/**
 * Message search: case-insensitive substring match served by the trigram index
 * `messages_text_trgm` on lower(text) (pg_trgm, available on PostgreSQL and PGlite). Only chats the
 * caller belongs to, honouring their clear point and deletions; newest first. Takes the database
 * handle so it can run on a read replica.
 */
import { and, desc, eq, sql } from "drizzle-orm";
import type { DbOrTx } from "../../db/client";
import { chatMembers, messages } from "../../db/schema";
import { requireMember } from "../chats/access";
import { visibleToJoinedMember } from "./access";
import { messageReadsFor } from "./read-model";
import type { TMessageRead } from "./schemas";
import { containsPattern } from "../../db/sql-fragments";


export async function searchMessages(
  db: DbOrTx,
  viewerId: number,
  input: { query: string; chat_id?: number; limit: number },
): Promise<TMessageRead[]> {
  const query = input.query.trim();
  if (query.length === 0) return [];
  if (input.chat_id !== undefined) await requireMember(db, input.chat_id, viewerId);
  const pattern = containsPattern(query);
  const rows = await db
    .select({ message: messages })
    .from(messages)
    .innerJoin(chatMembers, and(eq(chatMembers.chatId, messages.chatId), eq(chatMembers.userId, viewerId)))
    .where(
      and(
        input.chat_id !== undefined ? eq(messages.chatId, input.chat_id) : undefined,
        sql`lower(${messages.text}) like ${pattern}`,
        visibleToJoinedMember(viewerId),
      ),
    )
    .orderBy(desc(messages.id))
    .limit(input.limit);
  return messageReadsFor(
    db,
    rows.map((r) => r.message),
  );
}
