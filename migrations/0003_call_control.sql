CREATE TABLE "prompt_prefixes" (
	"tenant_id" text NOT NULL,
	"hash" text NOT NULL,
	"system" text NOT NULL,
	"tools" jsonb NOT NULL,
	"canonical" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "prompt_prefixes_tenant_id_hash_pk" PRIMARY KEY("tenant_id","hash"),
	CONSTRAINT "prompt_prefixes_hash_check" CHECK ("prompt_prefixes"."hash" ~ '^[0-9a-f]{64}$')
);
--> statement-breakpoint
CREATE TABLE "verifications" (
	"tenant_id" text NOT NULL,
	"id" text NOT NULL,
	"account_id" text NOT NULL,
	"phone_masked" text NOT NULL,
	"code_hash" text NOT NULL,
	"salt" text NOT NULL,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"resolved_at" timestamp (3) with time zone,
	"requested_by_key_id" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "verifications_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "verifications_status_check" CHECK ("verifications"."status" in ('pending', 'verified', 'locked', 'expired'))
);
--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "calling_window_start_minute" integer;--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "calling_window_end_minute" integer;--> statement-breakpoint
ALTER TABLE "prompt_prefixes" ADD CONSTRAINT "prompt_prefixes_tenant_id_accounts_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "verifications" ADD CONSTRAINT "verifications_tenant_id_accounts_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_calling_window_check" CHECK (("accounts"."calling_window_start_minute" is null and "accounts"."calling_window_end_minute" is null) or ("accounts"."calling_window_start_minute" >= 0 and "accounts"."calling_window_start_minute" < "accounts"."calling_window_end_minute" and "accounts"."calling_window_end_minute" <= 1440));--> statement-breakpoint
-- Prompt prefixes are content-addressed: a row never changes once written (same rule as agent_versions).
CREATE TRIGGER prompt_prefixes_immutable
  BEFORE UPDATE ON prompt_prefixes
  FOR EACH ROW EXECUTE FUNCTION aybiza_reject_change('immutable');
