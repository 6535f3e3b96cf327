/**
 * Direct-insert fixtures for tests whose subject is not chat/message creation itself (media,
 * realtime plumbing, benchmarks). Tests of the chats and messages rules go through REST.
 */
import { sql } from "drizzle-orm";
import { chatMembers, chats, messages, type ChatRole, type ChatType } from "../../src/db/schema";
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
  const [row] = await server.app.db
    .insert(messages)
    .values({ chatId: opts.chatId, senderId: opts.senderId, type: opts.type ?? "text", text: opts.text ?? "fixture" })
    .returning({ id: messages.id });
  if (!row) throw new Error("message insert failed");
  await server.app.db.execute(sql`update chats set last_message_id = ${row.id}, last_activity_at = now() where id = ${opts.chatId}`);
  return row.id;
}
