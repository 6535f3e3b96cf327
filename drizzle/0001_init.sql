CREATE SEQUENCE "public"."event_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
CREATE TABLE "blocks" (
	"user_id" integer NOT NULL,
	"blocked_id" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "blocks_user_id_blocked_id_pk" PRIMARY KEY("user_id","blocked_id")
);
--> statement-breakpoint
CREATE TABLE "contacts" (
	"user_id" integer NOT NULL,
	"contact_id" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "contacts_user_id_contact_id_pk" PRIMARY KEY("user_id","contact_id")
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" serial PRIMARY KEY NOT NULL,
	"email" text NOT NULL,
	"name" text NOT NULL,
	"username" text NOT NULL,
	"password_hash" text NOT NULL,
	"bio" text,
	"avatar_url" text,
	"email_verified" boolean DEFAULT false NOT NULL,
	"allow_private_messages" boolean DEFAULT true NOT NULL,
	"twofa_enabled" boolean DEFAULT false NOT NULL,
	"twofa_secret" text,
	"twofa_last_step" bigint,
	"privacy_avatar" text DEFAULT 'everyone' NOT NULL,
	"privacy_last_seen" text DEFAULT 'everyone' NOT NULL,
	"privacy_group_invites" text DEFAULT 'everyone' NOT NULL,
	"last_seen_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "email_tokens" (
	"id" serial PRIMARY KEY NOT NULL,
	"user_id" integer NOT NULL,
	"purpose" text NOT NULL,
	"token_hash" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" integer NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone DEFAULT now() NOT NULL,
	"user_agent" text,
	"ip" text,
	"refresh_token_hash" text
);
--> statement-breakpoint
CREATE TABLE "chat_members" (
	"chat_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"role" text DEFAULT 'member' NOT NULL,
	"joined_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_read_message_id" bigint DEFAULT 0 NOT NULL,
	"last_delivered_message_id" bigint DEFAULT 0 NOT NULL,
	"cleared_before_message_id" bigint DEFAULT 0 NOT NULL,
	"archived" boolean DEFAULT false NOT NULL,
	"pinned_at" timestamp with time zone,
	"muted" boolean DEFAULT false NOT NULL,
	"hidden" boolean DEFAULT false NOT NULL,
	"joined_seq" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "chat_members_chat_id_user_id_pk" PRIMARY KEY("chat_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "chats" (
	"id" serial PRIMARY KEY NOT NULL,
	"public_id" text NOT NULL,
	"type" text NOT NULL,
	"title" text,
	"handle" text,
	"description" text,
	"avatar_url" text,
	"is_public" boolean DEFAULT false NOT NULL,
	"is_saved" boolean DEFAULT false NOT NULL,
	"unique_key" text,
	"pinned_message_id" bigint,
	"invite_token" text,
	"last_message_id" bigint,
	"last_activity_at" timestamp with time zone DEFAULT now() NOT NULL,
	"members_count" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "message_hides" (
	"chat_id" integer NOT NULL,
	"message_id" bigint NOT NULL,
	"user_id" integer NOT NULL,
	CONSTRAINT "message_hides_chat_id_user_id_message_id_pk" PRIMARY KEY("chat_id","user_id","message_id")
);
--> statement-breakpoint
CREATE TABLE "message_mentions" (
	"chat_id" integer NOT NULL,
	"message_id" bigint NOT NULL,
	"user_id" integer NOT NULL,
	CONSTRAINT "message_mentions_chat_id_user_id_message_id_pk" PRIMARY KEY("chat_id","user_id","message_id")
);
--> statement-breakpoint
CREATE TABLE "message_reactions" (
	"chat_id" integer NOT NULL,
	"message_id" bigint NOT NULL,
	"user_id" integer NOT NULL,
	"emoji" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "message_reactions_chat_id_message_id_user_id_emoji_pk" PRIMARY KEY("chat_id","message_id","user_id","emoji")
);
--> statement-breakpoint
CREATE TABLE "messages" (
	"id" bigserial NOT NULL,
	"chat_id" integer NOT NULL,
	"sender_id" integer NOT NULL,
	"type" text NOT NULL,
	"text" text,
	"reply_to_message_id" bigint,
	"forwarded_from_message_id" bigint,
	"client_message_id" text,
	"attachment_waveform" integer[],
	"deleted_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "messages_chat_id_id_pk" PRIMARY KEY("chat_id","id")
);
--> statement-breakpoint
CREATE TABLE "attachments" (
	"id" bigserial NOT NULL,
	"chat_id" integer NOT NULL,
	"message_id" bigint NOT NULL,
	"uploader_id" integer NOT NULL,
	"file_url" text NOT NULL,
	"object_key" text NOT NULL,
	"file_type" text NOT NULL,
	"file_size" bigint NOT NULL,
	"waveform_points" integer[],
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "attachments_chat_id_id_pk" PRIMARY KEY("chat_id","id")
);
--> statement-breakpoint
CREATE TABLE "notifications" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"user_id" integer NOT NULL,
	"event_type" text NOT NULL,
	"payload" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "chat_events" (
	"chat_id" integer NOT NULL,
	"seq" bigint NOT NULL,
	"type" text NOT NULL,
	"data" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "chat_events_chat_id_seq_pk" PRIMARY KEY("chat_id","seq")
);
--> statement-breakpoint
CREATE TABLE "user_events" (
	"user_id" integer NOT NULL,
	"seq" bigint NOT NULL,
	"type" text NOT NULL,
	"data" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "user_events_user_id_seq_pk" PRIMARY KEY("user_id","seq")
);
--> statement-breakpoint
ALTER TABLE "blocks" ADD CONSTRAINT "blocks_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "blocks" ADD CONSTRAINT "blocks_blocked_id_users_id_fk" FOREIGN KEY ("blocked_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "contacts" ADD CONSTRAINT "contacts_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "contacts" ADD CONSTRAINT "contacts_contact_id_users_id_fk" FOREIGN KEY ("contact_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "email_tokens" ADD CONSTRAINT "email_tokens_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chat_members" ADD CONSTRAINT "chat_members_chat_id_chats_id_fk" FOREIGN KEY ("chat_id") REFERENCES "public"."chats"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chat_members" ADD CONSTRAINT "chat_members_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_chat_id_chats_id_fk" FOREIGN KEY ("chat_id") REFERENCES "public"."chats"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_sender_id_users_id_fk" FOREIGN KEY ("sender_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "blocks_blocked_idx" ON "blocks" USING btree ("blocked_id");--> statement-breakpoint
CREATE INDEX "contacts_contact_idx" ON "contacts" USING btree ("contact_id");--> statement-breakpoint
CREATE UNIQUE INDEX "users_email_key" ON "users" USING btree ("email");--> statement-breakpoint
CREATE UNIQUE INDEX "users_username_lower_key" ON "users" USING btree (lower("username"));--> statement-breakpoint
CREATE INDEX "users_username_trgm" ON "users" USING gin (lower("username") gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "users_name_trgm" ON "users" USING gin (lower("name") gin_trgm_ops);--> statement-breakpoint
CREATE UNIQUE INDEX "email_tokens_hash_key" ON "email_tokens" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "email_tokens_user_idx" ON "email_tokens" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "sessions_user_idx" ON "sessions" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "chat_members_user_idx" ON "chat_members" USING btree ("user_id","chat_id");--> statement-breakpoint
CREATE INDEX "chat_members_read_idx" ON "chat_members" USING btree ("chat_id","last_read_message_id");--> statement-breakpoint
CREATE INDEX "chat_members_delivered_idx" ON "chat_members" USING btree ("chat_id","last_delivered_message_id");--> statement-breakpoint
CREATE INDEX "chat_members_role_idx" ON "chat_members" USING btree ("chat_id","role","joined_at");--> statement-breakpoint
CREATE UNIQUE INDEX "chats_public_id_key" ON "chats" USING btree ("public_id");--> statement-breakpoint
CREATE UNIQUE INDEX "chats_handle_key" ON "chats" USING btree ("handle");--> statement-breakpoint
CREATE UNIQUE INDEX "chats_unique_key" ON "chats" USING btree ("unique_key");--> statement-breakpoint
CREATE UNIQUE INDEX "chats_invite_token_key" ON "chats" USING btree ("invite_token");--> statement-breakpoint
CREATE INDEX "chats_title_trgm" ON "chats" USING gin (lower("title") gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "chats_handle_trgm" ON "chats" USING gin ("handle" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "messages_id_idx" ON "messages" USING btree ("id");--> statement-breakpoint
CREATE UNIQUE INDEX "messages_client_id_key" ON "messages" USING btree ("chat_id","sender_id","client_message_id");--> statement-breakpoint
CREATE INDEX "messages_reply_idx" ON "messages" USING btree ("chat_id","reply_to_message_id");--> statement-breakpoint
CREATE INDEX "messages_text_trgm" ON "messages" USING gin (lower("text") gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "attachments_message_idx" ON "attachments" USING btree ("chat_id","message_id");--> statement-breakpoint
CREATE INDEX "notifications_user_idx" ON "notifications" USING btree ("user_id","id");--> statement-breakpoint
CREATE INDEX "chat_events_seq_idx" ON "chat_events" USING btree ("seq");--> statement-breakpoint
CREATE INDEX "user_events_seq_idx" ON "user_events" USING btree ("seq");