import { sql } from 'drizzle-orm';
import { boolean, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { proxmoxClusters } from './proxmox';
import { tenants } from './tenancy';

/** A stack variable as stored: plain, or (a secret) sealed at rest and never returned. */
export type StackVariableValue = { value: string } | { sealed: string };

/**
 * A Terraform (OpenTofu) stack: a root module — from `infra/terraform/` or a git repository —
 * with its variables, its state in Postgres (the pg backend, schema `backendSchema`), a history
 * of runs and, optionally, a drift check on a schedule.
 */
export const terraformStacks = pgTable(
  'terraform_stacks',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** A folder of `infra/terraform/` (`proxmox-vm`), or a path inside `gitUrl`. */
    modulePath: text('module_path').notNull(),
    /** A git repository the module comes from; null for Keelson's own modules. */
    gitUrl: text('git_url'),
    gitRef: text('git_ref'),
    /** Provider credentials for bpg/proxmox come from this cluster (PROXMOX_VE_* at run time). */
    proxmoxClusterId: uuid('proxmox_cluster_id').references(() => proxmoxClusters.id, { onDelete: 'restrict' }),
    /** Name → value; secrets sealed (decision 0016: secrets at rest stay on the ring). */
    variables: jsonb('variables').$type<Record<string, StackVariableValue>>().notNull().default({}),
    /** The pg backend's schema; unique across organizations. */
    backendSchema: text('backend_schema').notNull(),
    /** Outputs of the last apply (sensitive ones masked). */
    outputs: jsonb('outputs').$type<Record<string, { value: unknown; sensitive: boolean }>>().notNull().default({}),
    /** Minutes between drift checks; null: no schedule. */
    driftIntervalMinutes: integer('drift_interval_minutes'),
    /** `unknown` until checked, `in-sync` or `drifted`. */
    driftStatus: text('drift_status').notNull().default('unknown'),
    driftCheckedAt: timestamp('drift_checked_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('terraform_stacks_tenant_id_name_idx').on(t.tenantId, t.name), uniqueIndex('terraform_stacks_backend_schema_idx').on(t.backendSchema)],
);

export const TERRAFORM_RUN_KINDS = ['apply', 'destroy'] as const;
export type TerraformRunKind = (typeof TERRAFORM_RUN_KINDS)[number];

export const TERRAFORM_RUN_STATES = ['planning', 'awaiting-approval', 'applying', 'applied', 'no-changes', 'rejected', 'failed', 'canceled'] as const;
export type TerraformRunState = (typeof TERRAFORM_RUN_STATES)[number];

/**
 * Where an apply runs, recorded before tofu starts (and its pid and output files once it runs),
 * so a retry after a crash can wait for it, show its output and make sure its lock is released.
 */
export interface TerraformApplyAttempt {
  host: string;
  /** The attempt's working directory (removed by the retry once tofu has ended). */
  workspace?: string;
  pid?: number;
  /** tofu's output files, which it writes on after the worker is gone. */
  output?: { stdout: string; stderr: string };
  startedAt: string;
}

/** One run of a stack: plan, the reviewer's diff, approval, apply of exactly that plan, outputs. */
export const terraformRuns = pgTable(
  'terraform_runs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    stackId: uuid('stack_id').notNull().references(() => terraformStacks.id, { onDelete: 'cascade' }),
    kind: text('kind').$type<TerraformRunKind>().notNull(),
    workflowId: text('workflow_id').notNull(),
    state: text('state').$type<TerraformRunState>().notNull().default('planning'),
    /** The reviewer's diff of the current plan (plan-diff.ts); never holds variable values. */
    diff: jsonb('diff'),
    /** How many times this run planned (a stale or interrupted plan is planned again). */
    plans: integer('plans').notNull().default(0),
    /** The saved plan file, sealed (it holds the variables), and its SHA-256. */
    planSealed: text('plan_sealed'),
    planSha256: text('plan_sha256'),
    applyAttempt: jsonb('apply_attempt').$type<TerraformApplyAttempt>(),
    outputs: jsonb('outputs').$type<Record<string, { value: unknown; sensitive: boolean }>>(),
    error: text('error'),
    createdBy: text('created_by').notNull(),
    approvedBy: text('approved_by'),
    approvedAt: timestamp('approved_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [index('terraform_runs_tenant_id_stack_id_created_at_idx').on(t.tenantId, t.stackId, t.createdAt), uniqueIndex('terraform_runs_workflow_id_idx').on(t.workflowId)],
);

/** Drift found by a stack's scheduled plan; one open finding per stack, resolved when in sync. */
export const terraformDriftFindings = pgTable(
  'terraform_drift_findings',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    stackId: uuid('stack_id').notNull().references(() => terraformStacks.id, { onDelete: 'cascade' }),
    diff: jsonb('diff').notNull(),
    open: boolean('open').notNull().default(true),
    openedAt: timestamp('opened_at', { withTimezone: true }).notNull().defaultNow(),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true }).notNull().defaultNow(),
    resolvedAt: timestamp('resolved_at', { withTimezone: true }),
  },
  (t) => [uniqueIndex('terraform_drift_findings_stack_id_open_idx').on(t.stackId).where(sql`${t.open}`), index('terraform_drift_findings_tenant_id_idx').on(t.tenantId)],
);
