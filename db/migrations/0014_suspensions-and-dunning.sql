CREATE TYPE "public"."suspension_reason" AS ENUM('overdue', 'staff', 'kyc');--> statement-breakpoint
CREATE TABLE "service_suspensions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"resource" text NOT NULL,
	"subscription_id" uuid,
	"reason" "suspension_reason" NOT NULL,
	"source" text NOT NULL,
	"note" text DEFAULT '' NOT NULL,
	"requested_by" text NOT NULL,
	"requested_at" timestamp with time zone DEFAULT now() NOT NULL,
	"suspended_at" timestamp with time zone,
	"lifted_at" timestamp with time zone,
	"lifted_by" text,
	"restored_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "dunning_settings" (
	"tenant_id" uuid PRIMARY KEY NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"ladder" jsonb NOT NULL,
	"termination_approval" boolean DEFAULT true NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "dunning_steps" (
	"tenant_id" uuid NOT NULL,
	"invoice_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"day" integer NOT NULL,
	"kind" text NOT NULL,
	"scheduled_at" timestamp with time zone NOT NULL,
	"done_at" timestamp with time zone,
	"outcome" text,
	"note" text DEFAULT '' NOT NULL,
	"email_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "dunning_steps_invoice_id_position_pk" PRIMARY KEY("invoice_id","position")
);
--> statement-breakpoint
ALTER TABLE "service_suspensions" ADD CONSTRAINT "service_suspensions_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "service_suspensions" ADD CONSTRAINT "service_suspensions_subscription_id_subscriptions_id_fk" FOREIGN KEY ("subscription_id") REFERENCES "public"."subscriptions"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dunning_settings" ADD CONSTRAINT "dunning_settings_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dunning_steps" ADD CONSTRAINT "dunning_steps_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dunning_steps" ADD CONSTRAINT "dunning_steps_invoice_id_invoices_id_fk" FOREIGN KEY ("invoice_id") REFERENCES "public"."invoices"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "service_suspensions_tenant_id_resource_reason_idx" ON "service_suspensions" USING btree ("tenant_id","resource","reason") WHERE "service_suspensions"."lifted_at" is null;--> statement-breakpoint
CREATE INDEX "service_suspensions_tenant_id_resource_idx" ON "service_suspensions" USING btree ("tenant_id","resource");--> statement-breakpoint
CREATE INDEX "service_suspensions_subscription_id_idx" ON "service_suspensions" USING btree ("subscription_id");