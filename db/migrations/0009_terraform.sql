CREATE TABLE "terraform_drift_findings" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"stack_id" uuid NOT NULL,
	"diff" jsonb NOT NULL,
	"open" boolean DEFAULT true NOT NULL,
	"opened_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"resolved_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "terraform_runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"stack_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"workflow_id" text NOT NULL,
	"state" text DEFAULT 'planning' NOT NULL,
	"diff" jsonb,
	"plans" integer DEFAULT 0 NOT NULL,
	"plan_sealed" text,
	"plan_sha256" text,
	"apply_attempt" jsonb,
	"outputs" jsonb,
	"error" text,
	"created_by" text NOT NULL,
	"approved_by" text,
	"approved_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "terraform_stacks" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name" text NOT NULL,
	"module_path" text NOT NULL,
	"git_url" text,
	"git_ref" text,
	"proxmox_cluster_id" uuid,
	"variables" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"backend_schema" text NOT NULL,
	"outputs" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"drift_interval_minutes" integer,
	"drift_status" text DEFAULT 'unknown' NOT NULL,
	"drift_checked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "terraform_drift_findings" ADD CONSTRAINT "terraform_drift_findings_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "terraform_drift_findings" ADD CONSTRAINT "terraform_drift_findings_stack_id_terraform_stacks_id_fk" FOREIGN KEY ("stack_id") REFERENCES "public"."terraform_stacks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "terraform_runs" ADD CONSTRAINT "terraform_runs_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "terraform_runs" ADD CONSTRAINT "terraform_runs_stack_id_terraform_stacks_id_fk" FOREIGN KEY ("stack_id") REFERENCES "public"."terraform_stacks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "terraform_stacks" ADD CONSTRAINT "terraform_stacks_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "terraform_stacks" ADD CONSTRAINT "terraform_stacks_proxmox_cluster_id_proxmox_clusters_id_fk" FOREIGN KEY ("proxmox_cluster_id") REFERENCES "public"."proxmox_clusters"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "terraform_drift_findings_stack_id_open_idx" ON "terraform_drift_findings" USING btree ("stack_id") WHERE "terraform_drift_findings"."open";--> statement-breakpoint
CREATE INDEX "terraform_drift_findings_tenant_id_idx" ON "terraform_drift_findings" USING btree ("tenant_id");--> statement-breakpoint
CREATE INDEX "terraform_runs_tenant_id_stack_id_created_at_idx" ON "terraform_runs" USING btree ("tenant_id","stack_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "terraform_runs_workflow_id_idx" ON "terraform_runs" USING btree ("workflow_id");--> statement-breakpoint
CREATE UNIQUE INDEX "terraform_stacks_tenant_id_name_idx" ON "terraform_stacks" USING btree ("tenant_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "terraform_stacks_backend_schema_idx" ON "terraform_stacks" USING btree ("backend_schema");