CREATE TYPE "public"."kyc_document_kind" AS ENUM('passport', 'id_card', 'driving_licence', 'proof_of_address', 'company_registration', 'other');--> statement-breakpoint
CREATE TYPE "public"."kyc_state" AS ENUM('awaiting_documents', 'submitted', 'in_review', 'approved', 'rejected', 'rejected_final', 'expired', 'revoked');--> statement-breakpoint
CREATE TABLE "kyc_case_events" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"case_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"state" "kyc_state" NOT NULL,
	"event" text NOT NULL,
	"actor" text,
	"detail" text,
	"at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "kyc_cases" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"customer_id" uuid NOT NULL,
	"workflow_id" text NOT NULL,
	"state" "kyc_state" NOT NULL,
	"version" integer NOT NULL,
	"high_risk" boolean DEFAULT false NOT NULL,
	"approvals" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"reason" text,
	"decided_by" text,
	"decided_at" timestamp with time zone,
	"submitted_at" timestamp with time zone,
	"review_due_at" timestamp with time zone,
	"escalated_at" timestamp with time zone,
	"expires_at" timestamp with time zone,
	"valid_until" timestamp with time zone,
	"reverification_requested_at" timestamp with time zone,
	"provider_decision_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "kyc_documents" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"customer_id" uuid NOT NULL,
	"case_id" uuid,
	"kind" "kyc_document_kind" NOT NULL,
	"filename" text NOT NULL,
	"content_type" text NOT NULL,
	"size" integer NOT NULL,
	"sha256" text NOT NULL,
	"expires_on" timestamp with time zone,
	"key_version" integer,
	"content_sealed" "bytea",
	"uploaded_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "kyc_provider_events" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"provider" text NOT NULL,
	"event_id" text NOT NULL,
	"customer_id" uuid NOT NULL,
	"answer" text NOT NULL,
	"reject_type" text,
	"decided_at_ms" bigint NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "kyc_provider_settings" (
	"tenant_id" uuid PRIMARY KEY NOT NULL,
	"provider" text NOT NULL,
	"webhook_secret_sealed" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "kyc_case_events" ADD CONSTRAINT "kyc_case_events_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "kyc_case_events" ADD CONSTRAINT "kyc_case_events_case_id_kyc_cases_id_fk" FOREIGN KEY ("case_id") REFERENCES "public"."kyc_cases"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "kyc_cases" ADD CONSTRAINT "kyc_cases_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "kyc_cases" ADD CONSTRAINT "kyc_cases_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "kyc_documents" ADD CONSTRAINT "kyc_documents_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "kyc_documents" ADD CONSTRAINT "kyc_documents_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "kyc_provider_events" ADD CONSTRAINT "kyc_provider_events_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "kyc_provider_settings" ADD CONSTRAINT "kyc_provider_settings_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "kyc_case_events_case_id_version_idx" ON "kyc_case_events" USING btree ("case_id","version");--> statement-breakpoint
CREATE INDEX "kyc_cases_tenant_id_customer_id_idx" ON "kyc_cases" USING btree ("tenant_id","customer_id","created_at");--> statement-breakpoint
CREATE INDEX "kyc_cases_tenant_id_state_idx" ON "kyc_cases" USING btree ("tenant_id","state","submitted_at");--> statement-breakpoint
CREATE INDEX "kyc_documents_tenant_id_customer_id_idx" ON "kyc_documents" USING btree ("tenant_id","customer_id");--> statement-breakpoint
CREATE INDEX "kyc_documents_case_id_idx" ON "kyc_documents" USING btree ("case_id");--> statement-breakpoint
CREATE UNIQUE INDEX "kyc_provider_events_tenant_id_provider_event_id_idx" ON "kyc_provider_events" USING btree ("tenant_id","provider","event_id");