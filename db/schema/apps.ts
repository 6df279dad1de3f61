import { boolean, index, integer, jsonb, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { nodes } from './nodes';
import { tenants } from './tenancy';

/** How a release is judged healthy before traffic is switched to it, and while it is watched after. */
export interface HealthCheck {
  /** HTTP path requested on the release's container port. */
  path: string;
  expectedStatus: number;
  /** How long the release has to pass, from its container's start. */
  timeoutSeconds: number;
  /** Consecutive passes needed. */
  passes: number;
}

/** An application deployed from git onto one Docker node, served under its hostname. */
export const apps = pgTable(
  'apps',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** Without credentials: user info in the URL given is split off and sealed below. */
    repoUrl: text('repo_url').notNull(),
    /** `{username, password}` from the repository URL, encrypted at rest; shown only as `****@`. */
    repoCredentialsSealed: text('repo_credentials_sealed'),
    branch: text('branch').notNull().default('main'),
    dockerfilePath: text('dockerfile_path').notNull().default('Dockerfile'),
    buildContext: text('build_context').notNull().default('.'),
    containerPort: integer('container_port').notNull(),
    healthCheck: jsonb('health_check').$type<HealthCheck>().notNull(),
    /** JSON object of environment variables, encrypted at rest. */
    envSealed: text('env_sealed'),
    nodeId: uuid('node_id').notNull().references(() => nodes.id),
    /** Unique across tenants: the proxy routes by it. */
    hostname: text('hostname').notNull(),
    /** Wait for an operator's approval before switching traffic. */
    requireApproval: boolean('require_approval').notNull().default(false),
    approvalTimeoutSeconds: integer('approval_timeout_seconds').notNull().default(3600),
    /** After the switch: how long the new release is watched before the deploy counts as done. */
    watchSeconds: integer('watch_seconds').notNull().default(30),
    /** After the watch: how long the old release keeps its in-flight requests before it stops. */
    drainSeconds: integer('drain_seconds').notNull().default(10),
    /** Shared secret for push webhooks (GitHub HMAC key, GitLab token), encrypted at rest. */
    webhookSecretSealed: text('webhook_secret_sealed').notNull(),
    /** The release serving traffic now, if any. */
    currentReleaseId: uuid('current_release_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('apps_tenant_id_name_idx').on(t.tenantId, t.name), uniqueIndex('apps_hostname_idx').on(t.hostname)],
);

export const RELEASE_STATUSES = [
  /** Requested; waiting behind the app's running deploy. */
  'queued',
  /** A newer request replaced it before it started. */
  'superseded',
  'building',
  'starting',
  'checking',
  'awaiting_approval',
  /** Serving traffic. */
  'live',
  /** Served, then replaced by a newer release. */
  'retired',
  /** Failed before the switch; the previous release kept serving, untouched. */
  'failed',
  /** Switched to, stopped answering, switched back automatically. */
  'rolled_back',
  /** Cancelled by an operator, or its approval was refused or expired. */
  'canceled',
] as const;
export type ReleaseStatus = (typeof RELEASE_STATUSES)[number];
export const releaseStatusEnum = pgEnum('release_status', RELEASE_STATUSES);

export const RELEASE_TRIGGERS = ['push', 'manual', 'rollback'] as const;
export const releaseTriggerEnum = pgEnum('release_trigger', RELEASE_TRIGGERS);

/** Milliseconds spent in each phase of a deploy, as far as it got. */
export interface ReleaseTimings {
  fetchMs?: number;
  buildMs?: number;
  startMs?: number;
  healthMs?: number;
  approvalMs?: number;
  switchMs?: number;
  watchMs?: number;
}

/** One deploy of an app: what was asked, what it ran, and how it ended. */
export const releases = pgTable(
  'releases',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    appId: uuid('app_id').notNull().references(() => apps.id, { onDelete: 'cascade' }),
    trigger: releaseTriggerEnum('trigger').notNull(),
    status: releaseStatusEnum('status').notNull().default('queued'),
    /** Exact commit; null until resolved when a deploy asked for the branch head. */
    commitSha: text('commit_sha'),
    commitMessage: text('commit_message'),
    image: text('image'),
    /** For a rollback: the release whose image is reused. */
    sourceReleaseId: uuid('source_release_id'),
    /** The webhook delivery that asked for it, if any. */
    deliveryId: uuid('delivery_id'),
    /** The deploy run (its output is the release's log). */
    workflowId: text('workflow_id').notNull(),
    containerName: text('container_name'),
    /** Where the proxy reaches it while it runs, e.g. 127.0.0.1:49153. */
    upstream: text('upstream'),
    actor: text('actor').notNull(),
    error: text('error'),
    timings: jsonb('timings').$type<ReleaseTimings>().notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    switchedAt: timestamp('switched_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [index('releases_app_id_created_at_idx').on(t.appId, t.createdAt), index('releases_tenant_id_idx').on(t.tenantId)],
);

export const WEBHOOK_PROVIDERS = ['github', 'gitlab'] as const;
export type WebhookProvider = (typeof WEBHOOK_PROVIDERS)[number];
export const webhookProviderEnum = pgEnum('webhook_provider', WEBHOOK_PROVIDERS);

export const DELIVERY_OUTCOMES = [
  /** Verified and queued a deploy. */
  'queued',
  /** Verified, but nothing to do (another branch, a tag, a ping, a branch deletion). */
  'ignored',
  /** Verified, and already seen under the same delivery id: nothing started. */
  'duplicate',
  /** Signature or token did not verify. */
  'rejected',
  /** Verified but unreadable. */
  'malformed',
  /** Verified, but queueing the deploy failed; a redelivery may try again. */
  'failed',
] as const;
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number];
export const deliveryOutcomeEnum = pgEnum('delivery_outcome', DELIVERY_OUTCOMES);

/** Every webhook delivery an app received, verified or not, with what came of it. */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    appId: uuid('app_id').notNull().references(() => apps.id, { onDelete: 'cascade' }),
    provider: webhookProviderEnum('provider').notNull(),
    /** The provider's delivery id (X-GitHub-Delivery, X-Gitlab-Event-UUID) as sent. */
    externalId: text('external_id'),
    /**
     * Set only once a delivery verified: the idempotency key. Unverified requests cannot claim
     * a delivery id, so a forged request never blocks the real one.
     */
    idempotencyKey: text('idempotency_key'),
    event: text('event'),
    ref: text('ref'),
    commitSha: text('commit_sha'),
    outcome: deliveryOutcomeEnum('outcome').notNull(),
    reason: text('reason'),
    releaseId: uuid('release_id'),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_idempotency_idx').on(t.appId, t.provider, t.idempotencyKey),
    index('webhook_deliveries_app_id_received_at_idx').on(t.appId, t.receivedAt),
  ],
);
