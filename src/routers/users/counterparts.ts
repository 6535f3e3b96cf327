/**
 * A change of a user that shows in the other side of their private chats (CONTRACT §5: a private
 * chat's `display_title`, `counterpart_*` fields): their name, username, avatar, presence privacy,
 * or a block or contact that changes what one counterpart may see of them. Each counterpart gets a
 * user-level `chat_updated` with that chat as they see it now: a client that follows the socket
 * would otherwise keep a stale name, avatar, or "online" the user no longer shows them.
 *
 * One ChatRead per private chat of the user (rare changes; a user with thousands of private chats
 * makes that change a few seconds long).
 */
import { sql } from "drizzle-orm";
import type { App } from "../../app";
import { queryRows, type Tx } from "../../db/client";
import type { EventSink } from "../../realtime/event-log";
import { emitPersonalUpdate } from "../chats/membership";

/** Tells the counterparts of `userId`'s private chats (only `counterpartId`, when given). */
export async function tellCounterparts(app: App, tx: Tx, events: EventSink, userId: number, counterpartId?: number): Promise<void> {
  const rows = await queryRows<{ chat_id: number; user_id: number }>(
    tx,
    sql`select o.chat_id, o.user_id
        from chat_members me
        join chats c on c.id = me.chat_id and c.type = 'private' and not c.is_saved
        join chat_members o on o.chat_id = me.chat_id and o.user_id <> me.user_id
        where me.user_id = ${userId} ${counterpartId === undefined ? sql`` : sql`and o.user_id = ${counterpartId}`}
          -- A chat the counterpart deleted for themself stays away until a message brings it back.
          and not o.hidden`,
  );
  for (const r of rows) await emitPersonalUpdate(app, tx, events, Number(r.user_id), Number(r.chat_id));
}
