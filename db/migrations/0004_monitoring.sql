CREATE TYPE "public"."alert_severity" AS ENUM('info', 'warning', 'critical');--> statement-breakpoint
CREATE TYPE "public"."alert_state" AS ENUM('pending', 'firing', 'acknowledged', 'resolved', 'inactive');--> statement-breakpoint
CREATE TYPE "public"."monitored_kind" AS ENUM('docker_node', 'container', 'app', 'proxmox_cluster', 'proxmox_node', 'guest');--> statement-breakpoint
CREATE TABLE "alert_notifications" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"alert_id" uuid NOT NULL,
	"sequence" integer NOT NULL,
	"channel" text NOT NULL,
	"event" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"message_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "alert_rules" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name" text NOT NULL,
	"metric" text NOT NULL,
	"kinds" text[] DEFAULT '{}' NOT NULL,
	"scope" jsonb NOT NULL,
	"comparison" text NOT NULL,
	"threshold" double precision NOT NULL,
	"clear_threshold" double precision NOT NULL,
	"for_seconds" integer DEFAULT 0 NOT NULL,
	"severity" "alert_severity" DEFAULT 'warning' NOT NULL,
	"emails" text[] DEFAULT '{}' NOT NULL,
	"webhook_url" text,
	"webhook_secret_sealed" text,
	"repeat_seconds" integer DEFAULT 0 NOT NULL,
	"no_data" text DEFAULT 'alert' NOT NULL,
	"no_data_seconds" integer DEFAULT 300 NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "alert_silences" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"matchers" jsonb NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone NOT NULL,
	"comment" text DEFAULT '' NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "alerts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"rule_id" uuid,
	"resource_id" uuid,
	"kind" text NOT NULL,
	"workflow_id" text NOT NULL,
	"state" "alert_state" NOT NULL,
	"severity" "alert_severity" NOT NULL,
	"summary" text NOT NULL,
	"value" double precision,
	"threshold" double precision,
	"started_at" timestamp with time zone NOT NULL,
	"fired_at" timestamp with time zone,
	"acknowledged_at" timestamp with time zone,
	"acknowledged_by" text,
	"acknowledge_comment" text,
	"resolved_at" timestamp with time zone,
	"suppressed_by" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "maintenance_windows" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name" text NOT NULL,
	"scope" jsonb NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone NOT NULL,
	"repeat_weekly" boolean DEFAULT false NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "metric_rollups" (
	"resource_id" uuid NOT NULL,
	"bucket" timestamp with time zone NOT NULL,
	"tenant_id" uuid NOT NULL,
	"samples" integer NOT NULL,
	"cpu_max_percent" double precision,
	"cpu_percent" double precision,
	"mem_used_bytes" double precision,
	"mem_total_bytes" double precision,
	"mem_cache_bytes" double precision,
	"disk_used_bytes" double precision,
	"disk_total_bytes" double precision,
	"net_in_bps" double precision,
	"net_out_bps" double precision,
	"disk_read_bps" double precision,
	"disk_write_bps" double precision,
	"up" double precision,
	"latency_ms" double precision,
	CONSTRAINT "metric_rollups_pkey" PRIMARY KEY("resource_id","bucket")
);
--> statement-breakpoint
CREATE TABLE "metric_samples" (
	"resource_id" uuid NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"tenant_id" uuid NOT NULL,
	"cpu_percent" double precision,
	"mem_used_bytes" double precision,
	"mem_total_bytes" double precision,
	"mem_cache_bytes" double precision,
	"disk_used_bytes" double precision,
	"disk_total_bytes" double precision,
	"net_in_bps" double precision,
	"net_out_bps" double precision,
	"disk_read_bps" double precision,
	"disk_write_bps" double precision,
	"up" double precision,
	"latency_ms" double precision,
	CONSTRAINT "metric_samples_pkey" PRIMARY KEY("resource_id","at")
);
--> statement-breakpoint
CREATE TABLE "monitored_resources" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"kind" "monitored_kind" NOT NULL,
	"key" text NOT NULL,
	"name" text NOT NULL,
	"ref_id" uuid,
	"cluster_id" uuid,
	"node" text,
	"tags" text[] DEFAULT '{}' NOT NULL,
	"status" text DEFAULT 'unknown' NOT NULL,
	"last_sample_at" timestamp with time zone,
	"last_values" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"counters" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "alert_notifications" ADD CONSTRAINT "alert_notifications_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alert_notifications" ADD CONSTRAINT "alert_notifications_alert_id_alerts_id_fk" FOREIGN KEY ("alert_id") REFERENCES "public"."alerts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alert_rules" ADD CONSTRAINT "alert_rules_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alert_silences" ADD CONSTRAINT "alert_silences_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_rule_id_alert_rules_id_fk" FOREIGN KEY ("rule_id") REFERENCES "public"."alert_rules"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_resource_id_monitored_resources_id_fk" FOREIGN KEY ("resource_id") REFERENCES "public"."monitored_resources"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "maintenance_windows" ADD CONSTRAINT "maintenance_windows_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "metric_rollups" ADD CONSTRAINT "metric_rollups_resource_id_monitored_resources_id_fk" FOREIGN KEY ("resource_id") REFERENCES "public"."monitored_resources"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "metric_samples" ADD CONSTRAINT "metric_samples_resource_id_monitored_resources_id_fk" FOREIGN KEY ("resource_id") REFERENCES "public"."monitored_resources"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "monitored_resources" ADD CONSTRAINT "monitored_resources_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "alert_notifications_alert_id_sequence_channel_idx" ON "alert_notifications" USING btree ("alert_id","sequence","channel");--> statement-breakpoint
CREATE INDEX "alert_notifications_tenant_id_created_at_idx" ON "alert_notifications" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "alert_rules_tenant_id_name_idx" ON "alert_rules" USING btree ("tenant_id","name");--> statement-breakpoint
CREATE INDEX "alert_silences_tenant_id_ends_at_idx" ON "alert_silences" USING btree ("tenant_id","ends_at");--> statement-breakpoint
CREATE INDEX "alerts_tenant_id_state_idx" ON "alerts" USING btree ("tenant_id","state");--> statement-breakpoint
CREATE INDEX "alerts_tenant_id_resource_id_started_at_idx" ON "alerts" USING btree ("tenant_id","resource_id","started_at");--> statement-breakpoint
CREATE INDEX "alerts_tenant_id_rule_id_started_at_idx" ON "alerts" USING btree ("tenant_id","rule_id","started_at");--> statement-breakpoint
CREATE INDEX "maintenance_windows_tenant_id_idx" ON "maintenance_windows" USING btree ("tenant_id");--> statement-breakpoint
CREATE INDEX "metric_rollups_bucket_idx" ON "metric_rollups" USING brin ("bucket");--> statement-breakpoint
CREATE INDEX "metric_samples_at_idx" ON "metric_samples" USING brin ("at");--> statement-breakpoint
CREATE UNIQUE INDEX "monitored_resources_tenant_id_kind_key_idx" ON "monitored_resources" USING btree ("tenant_id","kind","key");--> statement-breakpoint
CREATE INDEX "monitored_resources_tenant_id_ref_id_idx" ON "monitored_resources" USING btree ("tenant_id","ref_id");--> statement-breakpoint
CREATE INDEX "monitored_resources_cluster_id_idx" ON "monitored_resources" USING btree ("cluster_id");