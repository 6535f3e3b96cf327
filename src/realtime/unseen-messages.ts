/**
 * Live frames that carry an existing message (`message_updated`, `reactions_updated`) go to the
 * chat's members except those who cannot see that message: it is deleted for them, or at or before
 * their clear point (CONTRACT §6; replays apply the same rule, replay.ts). Such members are few, so
 * they are found from their side: the message's hide rows and the members who cleared past it
 * (`chat_members_cleared_idx`), one statement per delivered batch.
 */
import { sql } from "drizzle-orm";
import type { App } from "../app";
import { queryRows } from "../db/client";
import type { LoggedEvent } from "./event-types";

const CARRYING = new Set(["message_updated", "reactions_updated"]);

/** The message a chat event carries, for the types that show a message's content. */
function carriedMessageId(e: LoggedEvent): number | null {
  if (!CARRYING.has(e.type) || e.chatId === null) return null;
  const m = e.data.message;
  if (m && typeof m === "object" && "id" in m && typeof m.id === "number") return m.id;
  return typeof e.data.message_id === "number" ? e.data.message_id : null;
}

/** Per event position, the users who must not get it (only positions with someone to skip). */
export async function unseenBy(app: App, events: LoggedEvent[]): Promise<Map<number, Set<number>>> {
  const wanted = events.flatMap((e) => {
    const messageId = carriedMessageId(e);
    return messageId === null || e.chatId === null ? [] : [{ seq: e.seq, chatId: e.chatId, messageId }];
  });
  const out = new Map<number, Set<number>>();
  if (wanted.length === 0) return out;
  const rows = await queryRows<{ seq: string | number; user_id: number }>(
    app.db,
    sql`with x as (
          select * from jsonb_to_recordset(${JSON.stringify(wanted)}::jsonb) as x(seq bigint, "chatId" int, "messageId" bigint))
        select x.seq, h.user_id from x join message_hides h on h.chat_id = x."chatId" and h.message_id = x."messageId"
        union
        select x.seq, cm.user_id from x join chat_members cm
          on cm.chat_id = x."chatId" and cm.cleared_before_message_id > 0 and cm.cleared_before_message_id >= x."messageId"`,
  );
  for (const r of rows) {
    const seq = Number(r.seq);
    let users = out.get(seq);
    if (!users) out.set(seq, (users = new Set()));
    users.add(Number(r.user_id));
  }
  return out;
}
