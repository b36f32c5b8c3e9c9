CREATE TABLE "accounts" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"jurisdiction" text NOT NULL,
	"plan" text DEFAULT 'free' NOT NULL,
	"owner_phone" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "accounts_jurisdiction_check" CHECK ("accounts"."jurisdiction" in ('us', 'eu'))
);
--> statement-breakpoint
CREATE TABLE "agent_versions" (
	"tenant_id" text NOT NULL,
	"id" text NOT NULL,
	"agent_id" text NOT NULL,
	"version" integer NOT NULL,
	"name" text NOT NULL,
	"system_prompt" text NOT NULL,
	"first_message" text,
	"voice" text NOT NULL,
	"language" text NOT NULL,
	"model_policy" jsonb NOT NULL,
	"tools" jsonb NOT NULL,
	"thinking_budget_tokens" integer DEFAULT 0 NOT NULL,
	"settings" jsonb NOT NULL,
	"created_by_key_id" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "agent_versions_tenant_id_id_pk" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE TABLE "agents" (
	"tenant_id" text NOT NULL,
	"id" text NOT NULL,
	"name" text NOT NULL,
	"latest_version" integer NOT NULL,
	"published_version_id" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp (3) with time zone,
	CONSTRAINT "agents_tenant_id_id_pk" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE TABLE "api_keys" (
	"tenant_id" text NOT NULL,
	"id" text NOT NULL,
	"name" text NOT NULL,
	"prefix" text NOT NULL,
	"key_hash" text NOT NULL,
	"scopes" text[] NOT NULL,
	"created_by_user_id" text,
	"created_by_key_id" text,
	"last_used_at" timestamp (3) with time zone,
	"revoked_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "api_keys_tenant_id_id_pk" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE TABLE "audit_log" (
	"tenant_id" text NOT NULL,
	"id" text NOT NULL,
	"at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"actor_type" text NOT NULL,
	"actor_id" text,
	"action" text NOT NULL,
	"target_type" text NOT NULL,
	"target_id" text NOT NULL,
	"before_id" text,
	"after_id" text,
	"request_id" text,
	CONSTRAINT "audit_log_tenant_id_id_pk" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE TABLE "call_turns" (
	"tenant_id" text NOT NULL,
	"id" text NOT NULL,
	"call_id" text NOT NULL,
	"turn_index" integer NOT NULL,
	"speaker" text NOT NULL,
	"text" text NOT NULL,
	"interrupted" boolean DEFAULT false NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"caller_speech_ended_at" timestamp (3) with time zone,
	"stt_final_at" timestamp (3) with time zone,
	"llm_first_token_at" timestamp (3) with time zone,
	"tts_first_byte_at" timestamp (3) with time zone,
	"first_audio_out_at" timestamp (3) with time zone,
	"platform_overhead_ms" integer,
	"input_tokens" integer,
	"output_tokens" integer,
	"cache_read_tokens" integer,
	"cache_write_tokens" integer,
	"model_id" text,
	CONSTRAINT "call_turns_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "call_turns_speaker_check" CHECK ("call_turns"."speaker" in ('caller', 'agent'))
);
--> statement-breakpoint
CREATE TABLE "calls" (
	"tenant_id" text NOT NULL,
	"id" text NOT NULL,
	"direction" text NOT NULL,
	"from_number" text NOT NULL,
	"to_number" text NOT NULL,
	"status" text NOT NULL,
	"region" text,
	"agent_id" text,
	"agent_version_id" text,
	"provider" text,
	"provider_call_sid" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"answered_at" timestamp (3) with time zone,
	"ended_at" timestamp (3) with time zone,
	"end_reason" text,
	CONSTRAINT "calls_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "calls_direction_check" CHECK ("calls"."direction" in ('inbound', 'outbound'))
);
--> statement-breakpoint
CREATE TABLE "consent_records" (
	"tenant_id" text NOT NULL,
	"id" text NOT NULL,
	"phone_number" text NOT NULL,
	"type" text NOT NULL,
	"status" text NOT NULL,
	"verification_method" text NOT NULL,
	"opted_in_at" timestamp (3) with time zone,
	"expires_at" timestamp (3) with time zone,
	"ip_address" text,
	"user_agent" text,
	"revoked_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "consent_records_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "consent_records_type_check" CHECK ("consent_records"."type" in ('marketing', 'service', 'emergency')),
	CONSTRAINT "consent_records_status_check" CHECK ("consent_records"."status" in ('pending', 'active', 'revoked')),
	CONSTRAINT "consent_records_method_check" CHECK ("consent_records"."verification_method" in ('checkbox', 'sms', 'voice'))
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"tenant_id" text NOT NULL,
	"key" text NOT NULL,
	"fingerprint" text NOT NULL,
	"status" integer,
	"response_body" text,
	"response_headers" jsonb,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_tenant_id_key_pk" PRIMARY KEY("tenant_id","key")
);
--> statement-breakpoint
CREATE TABLE "phone_number_routes" (
	"e164" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"phone_number_id" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "phone_numbers" (
	"tenant_id" text NOT NULL,
	"id" text NOT NULL,
	"e164" text NOT NULL,
	"provider" text NOT NULL,
	"agent_id" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "phone_numbers_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "phone_numbers_provider_check" CHECK ("phone_numbers"."provider" in ('twilio', 'telnyx'))
);
--> statement-breakpoint
CREATE TABLE "users" (
	"tenant_id" text NOT NULL,
	"id" text NOT NULL,
	"email" text NOT NULL,
	"name" text,
	"role" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "users_role_check" CHECK ("users"."role" in ('owner', 'admin', 'member'))
);
--> statement-breakpoint
ALTER TABLE "agent_versions" ADD CONSTRAINT "agent_versions_agent_fk" FOREIGN KEY ("tenant_id","agent_id") REFERENCES "public"."agents"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agents" ADD CONSTRAINT "agents_tenant_id_accounts_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agents" ADD CONSTRAINT "agents_published_version_fk" FOREIGN KEY ("tenant_id","published_version_id") REFERENCES "public"."agent_versions"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_tenant_id_accounts_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_created_by_user_fk" FOREIGN KEY ("tenant_id","created_by_user_id") REFERENCES "public"."users"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "audit_log" ADD CONSTRAINT "audit_log_tenant_id_accounts_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "call_turns" ADD CONSTRAINT "call_turns_call_fk" FOREIGN KEY ("tenant_id","call_id") REFERENCES "public"."calls"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "calls" ADD CONSTRAINT "calls_tenant_id_accounts_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "calls" ADD CONSTRAINT "calls_agent_fk" FOREIGN KEY ("tenant_id","agent_id") REFERENCES "public"."agents"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "calls" ADD CONSTRAINT "calls_agent_version_fk" FOREIGN KEY ("tenant_id","agent_version_id") REFERENCES "public"."agent_versions"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "consent_records" ADD CONSTRAINT "consent_records_tenant_id_accounts_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_tenant_id_accounts_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "phone_numbers" ADD CONSTRAINT "phone_numbers_tenant_id_accounts_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "phone_numbers" ADD CONSTRAINT "phone_numbers_agent_fk" FOREIGN KEY ("tenant_id","agent_id") REFERENCES "public"."agents"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_tenant_id_accounts_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "agent_versions_tenant_agent_version_key" ON "agent_versions" USING btree ("tenant_id","agent_id","version");--> statement-breakpoint
CREATE INDEX "agents_tenant_created_idx" ON "agents" USING btree ("tenant_id","created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "api_keys_tenant_hash_key" ON "api_keys" USING btree ("tenant_id","key_hash");--> statement-breakpoint
CREATE INDEX "audit_log_tenant_at_idx" ON "audit_log" USING btree ("tenant_id","at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "call_turns_tenant_call_turn_speaker_key" ON "call_turns" USING btree ("tenant_id","call_id","turn_index","speaker");--> statement-breakpoint
CREATE INDEX "calls_tenant_created_idx" ON "calls" USING btree ("tenant_id","created_at","id");--> statement-breakpoint
CREATE INDEX "calls_tenant_provider_sid_idx" ON "calls" USING btree ("tenant_id","provider_call_sid");--> statement-breakpoint
CREATE INDEX "consent_records_tenant_phone_idx" ON "consent_records" USING btree ("tenant_id","phone_number","type");--> statement-breakpoint
CREATE INDEX "consent_records_tenant_created_idx" ON "consent_records" USING btree ("tenant_id","created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "phone_numbers_tenant_e164_key" ON "phone_numbers" USING btree ("tenant_id","e164");--> statement-breakpoint
CREATE INDEX "phone_numbers_tenant_created_idx" ON "phone_numbers" USING btree ("tenant_id","created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "users_tenant_email_key" ON "users" USING btree ("tenant_id","email");