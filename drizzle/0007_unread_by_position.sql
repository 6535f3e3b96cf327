-- Positions of existing messages (1, 2, 3, ... per chat in id order) and each chat's count, so that
-- unread counts can subtract positions (src/routers/chats/unread.ts). Added nullable, filled, then
-- made NOT NULL, so a database with messages migrates.
ALTER TABLE "chats" ADD COLUMN "message_count" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "chat_seq" bigint;--> statement-breakpoint
UPDATE "messages" m SET "chat_seq" = p.pos
  FROM (SELECT "chat_id", "id", row_number() OVER (PARTITION BY "chat_id" ORDER BY "id") AS pos FROM "messages") p
  WHERE m."chat_id" = p."chat_id" AND m."id" = p."id";--> statement-breakpoint
UPDATE "chats" c SET "message_count" = n.total
  FROM (SELECT "chat_id", count(*) AS total FROM "messages" GROUP BY "chat_id") n
  WHERE c."id" = n."chat_id";--> statement-breakpoint
ALTER TABLE "messages" ALTER COLUMN "chat_seq" SET NOT NULL;--> statement-breakpoint
CREATE INDEX "messages_sender_idx" ON "messages" USING btree ("chat_id","sender_id","id");--> statement-breakpoint
CREATE INDEX "messages_deleted_idx" ON "messages" USING btree ("chat_id","id") WHERE deleted_at is not null;
