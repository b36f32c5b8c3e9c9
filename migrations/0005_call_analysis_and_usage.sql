CREATE TABLE "call_analyses" (
	"tenant_id" text NOT NULL,
	"call_id" text NOT NULL,
	"status" text NOT NULL,
	"summary" text,
	"success_pass" boolean,
	"success_reason" text,
	"data" jsonb,
	"data_errors" jsonb,
	"error" text,
	"model_id" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "call_analyses_tenant_id_call_id_pk" PRIMARY KEY("tenant_id","call_id"),
	CONSTRAINT "call_analyses_status_check" CHECK ("call_analyses"."status" in ('completed', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "call_usage" (
	"tenant_id" text NOT NULL,
	"call_id" text NOT NULL,
	"source" text NOT NULL,
	"meter" text NOT NULL,
	"variant" text NOT NULL,
	"speculative" boolean DEFAULT false NOT NULL,
	"quantity" integer NOT NULL,
	CONSTRAINT "call_usage_tenant_id_call_id_source_meter_variant_speculative_pk" PRIMARY KEY("tenant_id","call_id","source","meter","variant","speculative")
);
--> statement-breakpoint
ALTER TABLE "call_analyses" ADD CONSTRAINT "call_analyses_call_fk" FOREIGN KEY ("tenant_id","call_id") REFERENCES "public"."calls"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "call_usage" ADD CONSTRAINT "call_usage_call_fk" FOREIGN KEY ("tenant_id","call_id") REFERENCES "public"."calls"("tenant_id","id") ON DELETE no action ON UPDATE no action;