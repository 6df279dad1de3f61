CREATE TYPE "public"."delivery_outcome" AS ENUM('queued', 'ignored', 'duplicate', 'rejected', 'malformed', 'failed');--> statement-breakpoint
CREATE TYPE "public"."release_status" AS ENUM('queued', 'superseded', 'building', 'starting', 'checking', 'awaiting_approval', 'live', 'retired', 'failed', 'rolled_back', 'canceled');--> statement-breakpoint
CREATE TYPE "public"."release_trigger" AS ENUM('push', 'manual', 'rollback');--> statement-breakpoint
CREATE TYPE "public"."webhook_provider" AS ENUM('github', 'gitlab');--> statement-breakpoint
CREATE TABLE "apps" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name" text NOT NULL,
	"repo_url" text NOT NULL,
	"branch" text DEFAULT 'main' NOT NULL,
	"dockerfile_path" text DEFAULT 'Dockerfile' NOT NULL,
	"build_context" text DEFAULT '.' NOT NULL,
	"container_port" integer NOT NULL,
	"health_check" jsonb NOT NULL,
	"env_sealed" text,
	"node_id" uuid NOT NULL,
	"hostname" text NOT NULL,
	"require_approval" boolean DEFAULT false NOT NULL,
	"approval_timeout_seconds" integer DEFAULT 3600 NOT NULL,
	"watch_seconds" integer DEFAULT 30 NOT NULL,
	"drain_seconds" integer DEFAULT 10 NOT NULL,
	"webhook_secret_sealed" text NOT NULL,
	"current_release_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "releases" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"app_id" uuid NOT NULL,
	"trigger" "release_trigger" NOT NULL,
	"status" "release_status" DEFAULT 'queued' NOT NULL,
	"commit_sha" text,
	"commit_message" text,
	"image" text,
	"source_release_id" uuid,
	"delivery_id" uuid,
	"workflow_id" text NOT NULL,
	"container_name" text,
	"upstream" text,
	"actor" text NOT NULL,
	"error" text,
	"timings" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"switched_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "webhook_deliveries" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"app_id" uuid NOT NULL,
	"provider" "webhook_provider" NOT NULL,
	"external_id" text,
	"idempotency_key" text,
	"event" text,
	"ref" text,
	"commit_sha" text,
	"outcome" "delivery_outcome" NOT NULL,
	"reason" text,
	"release_id" uuid,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "apps" ADD CONSTRAINT "apps_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "apps" ADD CONSTRAINT "apps_node_id_nodes_id_fk" FOREIGN KEY ("node_id") REFERENCES "public"."nodes"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "releases" ADD CONSTRAINT "releases_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "releases" ADD CONSTRAINT "releases_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "apps_tenant_id_name_idx" ON "apps" USING btree ("tenant_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "apps_hostname_idx" ON "apps" USING btree ("hostname");--> statement-breakpoint
CREATE INDEX "releases_app_id_created_at_idx" ON "releases" USING btree ("app_id","created_at");--> statement-breakpoint
CREATE INDEX "releases_tenant_id_idx" ON "releases" USING btree ("tenant_id");--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_deliveries_idempotency_idx" ON "webhook_deliveries" USING btree ("app_id","provider","idempotency_key");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_app_id_received_at_idx" ON "webhook_deliveries" USING btree ("app_id","received_at");