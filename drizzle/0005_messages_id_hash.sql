DROP INDEX "messages_id_idx";--> statement-breakpoint
CREATE INDEX "messages_id_idx" ON "messages" USING hash ("id");