DROP INDEX "messages_client_id_key";--> statement-breakpoint
DROP INDEX "messages_reply_idx";--> statement-breakpoint
CREATE UNIQUE INDEX "messages_client_id_key" ON "messages" USING btree ("chat_id","sender_id","client_message_id") WHERE client_message_id is not null;--> statement-breakpoint
CREATE INDEX "messages_reply_idx" ON "messages" USING btree ("chat_id","reply_to_message_id") WHERE reply_to_message_id is not null;