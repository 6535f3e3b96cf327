CREATE TABLE "chat_receipts" (
	"chat_id" integer PRIMARY KEY NOT NULL,
	"read_user_id" integer,
	"read_mark" bigint DEFAULT 0 NOT NULL,
	"read_second" bigint DEFAULT 0 NOT NULL,
	"delivered_user_id" integer,
	"delivered_mark" bigint DEFAULT 0 NOT NULL,
	"delivered_second" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
DROP INDEX "chat_members_read_idx";--> statement-breakpoint
DROP INDEX "chat_members_delivered_idx";--> statement-breakpoint
ALTER TABLE "chat_receipts" ADD CONSTRAINT "chat_receipts_chat_id_chats_id_fk" FOREIGN KEY ("chat_id") REFERENCES "public"."chats"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
-- The leaders from the members' current marks (RECEIPTS_FROM_MEMBER_MARKS in src/routers/messages/receipts.ts).
-- Marks a join set (before this table, joining marked the newest message read) cannot be told apart here.
insert into chat_receipts (chat_id, read_user_id, read_mark, read_second, delivered_user_id, delivered_mark, delivered_second)
select c.chat_id, r.u1, coalesce(r.k1, 0), coalesce(r.k2, 0), d.u1, coalesce(d.k1, 0), coalesce(d.k2, 0)
from (select distinct chat_id from chat_members where last_read_message_id > 0 or last_delivered_message_id > 0) c
cross join lateral (
  select (array_agg(user_id order by last_read_message_id desc, user_id))[1] as u1,
         (array_agg(last_read_message_id order by last_read_message_id desc, user_id))[1] as k1,
         (array_agg(last_read_message_id order by last_read_message_id desc, user_id))[2] as k2
  from chat_members where chat_id = c.chat_id and last_read_message_id > 0) r
cross join lateral (
  select (array_agg(user_id order by last_delivered_message_id desc, user_id))[1] as u1,
         (array_agg(last_delivered_message_id order by last_delivered_message_id desc, user_id))[1] as k1,
         (array_agg(last_delivered_message_id order by last_delivered_message_id desc, user_id))[2] as k2
  from chat_members where chat_id = c.chat_id and last_delivered_message_id > 0) d
on conflict (chat_id) do nothing;