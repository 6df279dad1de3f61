CREATE TABLE "audit_sweeps" (
	"name" text PRIMARY KEY NOT NULL,
	"swept_until" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "audit_log" ADD COLUMN "key" uuid;--> statement-breakpoint
CREATE UNIQUE INDEX "audit_log_key_idx" ON "audit_log" USING btree ("key");