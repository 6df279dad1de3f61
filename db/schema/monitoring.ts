import { boolean, doublePrecision, index, integer, jsonb, pgEnum, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { tenants } from './tenancy';

/**
 * Monitoring: what is watched (resources), what it measured (samples and their 5-minute
 * rollups), alert rules, alerts (one row per episode of one alert workflow), the notifications
 * they sent (one row per alert, sequence and channel: the exactly-once key), silences and
 * maintenance windows.
 */

export const MONITORED_KINDS = ['docker_node', 'container', 'app', 'proxmox_cluster', 'proxmox_node', 'guest'] as const;
export type MonitoredKind = (typeof MONITORED_KINDS)[number];
export const monitoredKindEnum = pgEnum('monitored_kind', MONITORED_KINDS);

/** The values one sample carries; every field is optional (a kind measures what it can). */
export interface SampleValues {
  /** Percent of the resource's CPUs, 0–100. */
  cpuPercent?: number;
  /** What its processes hold, without page cache (what an operator means by "used"). */
  memUsedBytes?: number;
  memTotalBytes?: number;
  /** Page cache, where known (a VM's, read through its guest agent). */
  memCacheBytes?: number;
  diskUsedBytes?: number;
  diskTotalBytes?: number;
  netInBps?: number;
  netOutBps?: number;
  diskReadBps?: number;
  diskWriteBps?: number;
  /** 1 reachable/answering, 0 not (apps' HTTP checks, nodes, clusters). */
  up?: number;
  /** An app's HTTP check round trip. */
  latencyMs?: number;
}

/**
 * Something Keelson measures: a Docker node, a container, an app, a Proxmox cluster, node or
 * guest. `key` identifies it within its kind (a Keelson id, or `<clusterId>/<node>` and
 * `<clusterId>/<vmid>` for Proxmox). Its latest values and counters live here, so an evaluation
 * of a thousand guests reads a thousand rows, not their samples.
 */
export const monitoredResources = pgTable(
  'monitored_resources',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    kind: monitoredKindEnum('kind').notNull(),
    key: text('key').notNull(),
    name: text('name').notNull(),
    /** The Keelson record it stands for (nodes, containers, apps, proxmox_clusters, guests), if any. */
    refId: uuid('ref_id'),
    /** For Proxmox resources: their cluster. */
    clusterId: uuid('cluster_id'),
    /** Where it runs: a Docker node id, or a Proxmox node's name. */
    node: text('node'),
    tags: text('tags').array().notNull().default([]),
    /** What its source last said: running, stopped, online, offline, unreachable… */
    status: text('status').notNull().default('unknown'),
    lastSampleAt: timestamp('last_sample_at', { withTimezone: true }),
    lastValues: jsonb('last_values').$type<SampleValues>().notNull().default({}),
    /** Cumulative counters from the source, to turn the next reading into rates. */
    counters: jsonb('counters').$type<Record<string, number>>().notNull().default({}),
    /** When a collection last saw it; gone resources age out of lists. */
    seenAt: timestamp('seen_at', { withTimezone: true }).notNull().defaultNow(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('monitored_resources_tenant_id_kind_key_idx').on(t.tenantId, t.kind, t.key),
    index('monitored_resources_tenant_id_ref_id_idx').on(t.tenantId, t.refId),
    index('monitored_resources_cluster_id_idx').on(t.clusterId),
  ],
);

const sampleColumns = {
  cpuPercent: doublePrecision('cpu_percent'),
  memUsedBytes: doublePrecision('mem_used_bytes'),
  memTotalBytes: doublePrecision('mem_total_bytes'),
  memCacheBytes: doublePrecision('mem_cache_bytes'),
  diskUsedBytes: doublePrecision('disk_used_bytes'),
  diskTotalBytes: doublePrecision('disk_total_bytes'),
  netInBps: doublePrecision('net_in_bps'),
  netOutBps: doublePrecision('net_out_bps'),
  diskReadBps: doublePrecision('disk_read_bps'),
  diskWriteBps: doublePrecision('disk_write_bps'),
  up: doublePrecision('up'),
  latencyMs: doublePrecision('latency_ms'),
};
export const SAMPLE_FIELDS = Object.keys(sampleColumns) as Array<keyof SampleValues>;

/**
 * Raw samples, one row per resource and instant, kept for a day (configurable). The primary key
 * is also the index every chart and evaluation query uses: one resource, a time range.
 */
export const metricSamples = pgTable(
  'metric_samples',
  {
    resourceId: uuid('resource_id').notNull().references(() => monitoredResources.id, { onDelete: 'cascade' }),
    at: timestamp('at', { withTimezone: true }).notNull(),
    tenantId: uuid('tenant_id').notNull(),
    ...sampleColumns,
  },
  (t) => [primaryKey({ name: 'metric_samples_pkey', columns: [t.resourceId, t.at] }), index('metric_samples_at_idx').using('brin', t.at)],
);

/** 5-minute averages (and the CPU's maximum) of the raw samples, kept for a month (configurable). */
export const metricRollups = pgTable(
  'metric_rollups',
  {
    resourceId: uuid('resource_id').notNull().references(() => monitoredResources.id, { onDelete: 'cascade' }),
    bucket: timestamp('bucket', { withTimezone: true }).notNull(),
    tenantId: uuid('tenant_id').notNull(),
    samples: integer('samples').notNull(),
    cpuMaxPercent: doublePrecision('cpu_max_percent'),
    ...sampleColumns,
  },
  (t) => [primaryKey({ name: 'metric_rollups_pkey', columns: [t.resourceId, t.bucket] }), index('metric_rollups_bucket_idx').using('brin', t.bucket)],
);

export const ALERT_SEVERITIES = ['info', 'warning', 'critical'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];
export const alertSeverityEnum = pgEnum('alert_severity', ALERT_SEVERITIES);

export const ALERT_METRICS = [
  'cpu_percent',
  'memory_percent',
  'memory_used_bytes',
  'disk_percent',
  'net_in_bps',
  'net_out_bps',
  'disk_read_bps',
  'disk_write_bps',
  'up',
  'latency_ms',
] as const;
export type AlertMetric = (typeof ALERT_METRICS)[number];

export const COMPARISONS = ['>', '>=', '<', '<='] as const;
export type Comparison = (typeof COMPARISONS)[number];

/**
 * Which resources a rule (or a maintenance window) covers: one resource; what runs on a node (a
 * Docker node's containers and apps, a Proxmox node's guests) and the node itself; a cluster's
 * nodes and guests and the cluster itself; every guest with a tag; or everything (a rule's
 * `kinds` narrow each of these).
 */
export type AlertScope =
  | { type: 'resource'; resourceId: string }
  | { type: 'node'; resourceId: string }
  | { type: 'cluster'; clusterId: string }
  | { type: 'tag'; tag: string }
  | { type: 'all' };

export const NO_DATA_ACTIONS = ['alert', 'ignore'] as const;
export type NoDataAction = (typeof NO_DATA_ACTIONS)[number];

export const alertRules = pgTable(
  'alert_rules',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    metric: text('metric').$type<AlertMetric>().notNull(),
    /** Resources of these kinds only (empty: every kind the metric applies to). */
    kinds: text('kinds').array().$type<MonitoredKind[]>().notNull().default([]),
    scope: jsonb('scope').$type<AlertScope>().notNull(),
    comparison: text('comparison').$type<Comparison>().notNull(),
    threshold: doublePrecision('threshold').notNull(),
    /** The value must get back past this (towards normal) to resolve: hysteresis. */
    clearThreshold: doublePrecision('clear_threshold').notNull(),
    /** How long the condition must hold before the alert fires (and the clear before it resolves). */
    forSeconds: integer('for_seconds').notNull().default(0),
    severity: alertSeverityEnum('severity').notNull().default('warning'),
    emails: text('emails').array().notNull().default([]),
    webhookUrl: text('webhook_url'),
    /** HMAC key for the webhook's signature, encrypted at rest; never returned. */
    webhookSecretSealed: text('webhook_secret_sealed'),
    /** Remind while firing and unacknowledged; 0 never. */
    repeatSeconds: integer('repeat_seconds').notNull().default(0),
    noData: text('no_data').$type<NoDataAction>().notNull().default('alert'),
    /** No sample for this long counts as no data. */
    noDataSeconds: integer('no_data_seconds').notNull().default(300),
    enabled: boolean('enabled').notNull().default(true),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('alert_rules_tenant_id_name_idx').on(t.tenantId, t.name)],
);

export const ALERT_STATES = ['pending', 'firing', 'acknowledged', 'resolved', 'inactive'] as const;
export type AlertState = (typeof ALERT_STATES)[number];
export const alertStateEnum = pgEnum('alert_state', ALERT_STATES);

/**
 * `metric`: the rule's condition; `nodata`: the rule's resource stopped reporting; `unreachable`: a
 * node or cluster did; `drift`: a Terraform stack's infrastructure no longer matches its state
 * (one per drift finding, sharing its id; raised and resolved by the drift check, no rule).
 */
export const ALERT_KINDS = ['metric', 'nodata', 'unreachable', 'drift'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/** One episode of an alert (`alert/<rule>/<resource>`), from pending to resolved, written by its workflow. */
export const alerts = pgTable(
  'alerts',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    ruleId: uuid('rule_id').references(() => alertRules.id, { onDelete: 'set null' }),
    resourceId: uuid('resource_id').references(() => monitoredResources.id, { onDelete: 'set null' }),
    kind: text('kind').$type<AlertKind>().notNull(),
    workflowId: text('workflow_id').notNull(),
    state: alertStateEnum('state').notNull(),
    severity: alertSeverityEnum('severity').notNull(),
    summary: text('summary').notNull(),
    value: doublePrecision('value'),
    threshold: doublePrecision('threshold'),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
    firedAt: timestamp('fired_at', { withTimezone: true }),
    acknowledgedAt: timestamp('acknowledged_at', { withTimezone: true }),
    acknowledgedBy: text('acknowledged_by'),
    acknowledgeComment: text('acknowledge_comment'),
    resolvedAt: timestamp('resolved_at', { withTimezone: true }),
    /** Why notifications wait (a silence, a maintenance window), while they do. */
    suppressedBy: text('suppressed_by'),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('alerts_tenant_id_state_idx').on(t.tenantId, t.state),
    index('alerts_tenant_id_resource_id_started_at_idx').on(t.tenantId, t.resourceId, t.startedAt),
    index('alerts_tenant_id_rule_id_started_at_idx').on(t.tenantId, t.ruleId, t.startedAt),
  ],
);

export const NOTIFICATION_EVENTS = ['firing', 'reminder', 'resolved'] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];
export const NOTIFICATION_STATUSES = ['pending', 'sent', 'failed'] as const;
export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];

/**
 * Every notification an alert sends: unique per alert, sequence and channel (`email:<address>`,
 * `webhook`), so a retried or replayed send finds its row and never sends twice.
 */
export const alertNotifications = pgTable(
  'alert_notifications',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    alertId: uuid('alert_id').notNull().references(() => alerts.id, { onDelete: 'cascade' }),
    sequence: integer('sequence').notNull(),
    channel: text('channel').notNull(),
    event: text('event').$type<NotificationEvent>().notNull(),
    status: text('status').$type<NotificationStatus>().notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    /** The email's Message-ID (deterministic), or the webhook's delivery id. */
    messageId: text('message_id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    sentAt: timestamp('sent_at', { withTimezone: true }),
  },
  (t) => [uniqueIndex('alert_notifications_alert_id_sequence_channel_idx').on(t.alertId, t.sequence, t.channel), index('alert_notifications_tenant_id_created_at_idx').on(t.tenantId, t.createdAt)],
);

/** Which alerts a silence mutes; every given field must match. */
export interface SilenceMatchers {
  ruleId?: string;
  resourceId?: string;
  severity?: AlertSeverity;
  /** Resources carrying this tag. */
  tag?: string;
}

/** Mutes notifications of matching alerts for a time window; the alerts themselves go on. */
export const alertSilences = pgTable(
  'alert_silences',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    matchers: jsonb('matchers').$type<SilenceMatchers>().notNull(),
    startsAt: timestamp('starts_at', { withTimezone: true }).notNull(),
    endsAt: timestamp('ends_at', { withTimezone: true }).notNull(),
    comment: text('comment').notNull().default(''),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('alert_silences_tenant_id_ends_at_idx').on(t.tenantId, t.endsAt)],
);

/**
 * Planned work on resources: while a window is open, alerts of what it covers notify nobody and
 * no "no data" or unreachable alert is raised for them. `repeatWeekly` opens it every 7 days.
 */
export const maintenanceWindows = pgTable(
  'maintenance_windows',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    scope: jsonb('scope').$type<AlertScope>().notNull(),
    startsAt: timestamp('starts_at', { withTimezone: true }).notNull(),
    endsAt: timestamp('ends_at', { withTimezone: true }).notNull(),
    repeatWeekly: boolean('repeat_weekly').notNull().default(false),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('maintenance_windows_tenant_id_idx').on(t.tenantId)],
);
