CREATE TYPE "public"."guest_kind" AS ENUM('qemu', 'lxc');--> statement-breakpoint
CREATE TYPE "public"."guest_state" AS ENUM('provisioning', 'running', 'stopped', 'failed', 'destroyed');--> statement-breakpoint
CREATE TABLE "guests" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"cluster_id" uuid NOT NULL,
	"kind" "guest_kind" NOT NULL,
	"name" text NOT NULL,
	"vmid" integer,
	"node" text,
	"ip" text,
	"cores" integer NOT NULL,
	"memory_mib" integer NOT NULL,
	"disk_gib" integer,
	"admin_user" text NOT NULL,
	"state" "guest_state" DEFAULT 'provisioning' NOT NULL,
	"last_error" text,
	"workflow_id" text NOT NULL,
	"backup_policy" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "proxmox_clusters" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name" text NOT NULL,
	"url" text NOT NULL,
	"token_id" text NOT NULL,
	"token_secret_sealed" text NOT NULL,
	"ca_pem" text NOT NULL,
	"fingerprint" text,
	"default_template_vmid" integer,
	"default_storage" text,
	"default_ostemplate" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "guests" ADD CONSTRAINT "guests_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "guests" ADD CONSTRAINT "guests_cluster_id_proxmox_clusters_id_fk" FOREIGN KEY ("cluster_id") REFERENCES "public"."proxmox_clusters"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "proxmox_clusters" ADD CONSTRAINT "proxmox_clusters_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "guests_tenant_id_cluster_id_name_idx" ON "guests" USING btree ("tenant_id","cluster_id","name") WHERE "guests"."state" not in ('failed', 'destroyed');--> statement-breakpoint
CREATE INDEX "guests_cluster_id_idx" ON "guests" USING btree ("cluster_id");--> statement-breakpoint
CREATE UNIQUE INDEX "proxmox_clusters_tenant_id_name_idx" ON "proxmox_clusters" USING btree ("tenant_id","name");