/**
 * Direct-insert fixtures for tests whose subject is not chat/message creation itself (media,
 * realtime plumbing, benchmarks). Tests of the chats and messages rules go through REST.
 */
import { eq, sql } from "drizzle-orm";
import type { DbOrTx } from "../../src/db/client";
import { chatMembers, chatReceipts, chats, messages, type ChatRole, type ChatType } from "../../src/db/schema";
import { intArray } from "../../src/db/sql-fragments";
import { randomString } from "../../src/lib/random";
import type { TestServer } from "./server";

export async function insertChat(
  server: TestServer,
  opts: { type?: ChatType; ownerId: number; memberIds?: number[]; title?: string; roles?: Record<number, ChatRole> },
): Promise<number> {
  const type = opts.type ?? "group";
  const [chat] = await server.app.db
    .insert(chats)
    .values({ publicId: randomString(24), type, title: type === "private" ? null : (opts.title ?? "Fixture chat") })
    .returning({ id: chats.id });
  if (!chat) throw new Error("chat insert failed");
  // Every chat has its receipts row from creation on (src/routers/chats/create.ts).
  await server.app.db.insert(chatReceipts).values({ chatId: chat.id });
  const ids = [opts.ownerId, ...(opts.memberIds ?? []).filter((id) => id !== opts.ownerId)];
  await server.app.db.insert(chatMembers).values(
    ids.map((userId) => ({
      chatId: chat.id,
      userId,
      role: opts.roles?.[userId] ?? (userId === opts.ownerId && type !== "private" ? ("owner" as const) : ("member" as const)),
    })),
  );
  await server.app.db.execute(sql`update chats set members_count = ${ids.length} where id = ${chat.id}`);
  return chat.id;
}

export async function insertMessage(server: TestServer, opts: { chatId: number; senderId: number; text?: string; type?: "text" | "image" | "voice" | "file" }): Promise<number> {
  // The next position in the chat, as the send statement draws it (messages/write-statement.ts).
  const [chat] = await server.app.db
    .update(chats)
    .set({ messageCount: sql`${chats.messageCount} + 1` })
    .where(eq(chats.id, opts.chatId))
    .returning({ messageCount: chats.messageCount });
  if (!chat) throw new Error(`no chat ${opts.chatId}`);
  const [row] = await server.app.db
    .insert(messages)
    .values({ chatId: opts.chatId, chatSeq: chat.messageCount, senderId: opts.senderId, type: opts.type ?? "text", text: opts.text ?? "fixture" })
    .returning({ id: messages.id });
  if (!row) throw new Error("message insert failed");
  await server.app.db.execute(sql`update chats set last_message_id = ${row.id}, last_activity_at = now() where id = ${opts.chatId}`);
  return row.id;
}

/**
 * Positions and counts of `chatIds` recomputed from their rows, as the send statement would have
 * drawn them (messages/write-statement.ts): for tests that bulk-insert messages with chat_seq 0.
 */
export async function renumberMessages(db: DbOrTx, chatIds: number[]): Promise<void> {
  const ids = intArray(chatIds);
  await db.execute(sql`update messages m set chat_seq = p.pos
    from (select chat_id, id, row_number() over (partition by chat_id order by id) as pos from messages where chat_id = any(${ids}::int[])) p
    where m.chat_id = p.chat_id and m.id = p.id`);
  await db.execute(sql`update chats c set message_count = (select count(*) from messages m where m.chat_id = c.id) where c.id = any(${ids}::int[])`);
}
