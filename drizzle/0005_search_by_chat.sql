CREATE EXTENSION IF NOT EXISTS btree_gin;--> statement-breakpoint
DROP INDEX "messages_text_trgm";--> statement-breakpoint
CREATE INDEX "messages_chat_text_trgm" ON "messages" USING gin ("chat_id",lower("text") gin_trgm_ops);