CREATE TABLE "chat_member_periods" (
	"chat_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"joined_seq" bigint NOT NULL,
	"left_seq" bigint NOT NULL,
	"cleared_before_message_id" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "chat_member_periods_chat_id_user_id_joined_seq_pk" PRIMARY KEY("chat_id","user_id","joined_seq")
);
--> statement-breakpoint
ALTER TABLE "chat_member_periods" ADD CONSTRAINT "chat_member_periods_chat_id_chats_id_fk" FOREIGN KEY ("chat_id") REFERENCES "public"."chats"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chat_member_periods" ADD CONSTRAINT "chat_member_periods_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "chat_member_periods_user_idx" ON "chat_member_periods" USING btree ("user_id","left_seq");