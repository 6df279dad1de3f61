import { z } from '@hono/zod-openapi';
import { RUN_STATUSES } from '@keelson/common/constants';
import { ALERT_METRICS, ALERT_SEVERITIES, ALERT_STATES, COMPARISONS, MONITORED_KINDS, NO_DATA_ACTIONS } from '@keelson/db/schema';

const uuid = (what: string) => z.uuid({ error: `must be the UUID of ${what}` });
const SafeText = (max: number) => z.string().max(max).refine((s) => !s.includes('\u0000'), 'must not contain NUL characters');
const Instant = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' });

export const ScopeSchema = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('resource'), resourceId: uuid('a monitored resource') }),
    z.object({ type: z.literal('node'), resourceId: uuid('a monitored Docker or Proxmox node') }),
    z.object({ type: z.literal('cluster'), clusterId: uuid('a Proxmox cluster') }),
    z.object({ type: z.literal('tag'), tag: z.string().min(1).max(64).regex(/^[\w.+-]+$/, 'letters, digits, _ . + -') }),
    z.object({ type: z.literal('all') }),
  ])
  .openapi('AlertScope');

const SampleValuesSchema = z
  .object({
    cpuPercent: z.number().optional(),
    memUsedBytes: z.number().optional(),
    memTotalBytes: z.number().optional(),
    memCacheBytes: z.number().optional(),
    diskUsedBytes: z.number().optional(),
    diskTotalBytes: z.number().optional(),
    netInBps: z.number().optional(),
    netOutBps: z.number().optional(),
    diskReadBps: z.number().optional(),
    diskWriteBps: z.number().optional(),
    up: z.number().optional(),
    latencyMs: z.number().optional(),
  })
  .openapi('SampleValues');

export const ResourceSchema = z
  .object({
    id: z.string(),
    kind: z.enum(MONITORED_KINDS),
    name: z.string(),
    refId: z.string().nullable(),
    clusterId: z.string().nullable(),
    node: z.string().nullable(),
    tags: z.array(z.string()),
    status: z.string(),
    lastSampleAt: z.string().nullable(),
    lastValues: SampleValuesSchema,
  })
  .openapi('MonitoredResource');

export const ResourceListQuery = z.object({ kind: z.enum(MONITORED_KINDS).optional(), refId: z.uuid({ error: 'must be a UUID' }).optional() });

export const SeriesQuery = z
  .object({
    from: Instant.optional(),
    to: Instant.optional(),
    /** Instead of from/to: the last `range` up to now (`15m`, `1h`, `6h`, `24h`, `7d`, `30d`). */
    range: z.enum(['15m', '1h', '6h', '24h', '7d', '30d']).optional(),
  })
  .openapi('SeriesQuery');

export const SeriesByRefQuery = SeriesQuery.extend({ kind: z.enum(MONITORED_KINDS), refId: z.uuid({ error: 'must be a UUID' }) });

export const SeriesSchema = z
  .object({
    resource: ResourceSchema,
    from: z.string(),
    to: z.string(),
    resolution: z.enum(['raw', '5m']),
    stepSeconds: z.number().nullable(),
    points: z.array(SampleValuesSchema.extend({ at: z.string() })),
  })
  .openapi('MetricSeries');

export const AlertSchema = z
  .object({
    id: z.string(),
    ruleId: z.string().nullable(),
    resourceId: z.string().nullable(),
    resourceName: z.string().nullable(),
    resourceKind: z.string().nullable(),
    kind: z.string(),
    workflowId: z.string(),
    state: z.enum(ALERT_STATES),
    severity: z.enum(ALERT_SEVERITIES),
    summary: z.string(),
    value: z.number().nullable(),
    threshold: z.number().nullable(),
    startedAt: z.string(),
    firedAt: z.string().nullable(),
    acknowledgedAt: z.string().nullable(),
    acknowledgedBy: z.string().nullable().openapi({ description: 'Who acknowledged it, as an actor (`user:<id>`, `apikey:<id>`)' }),
    acknowledgedByName: z.string().nullable().openapi({ description: "A member who acknowledged it, by name and email: `Ada Lovelace (ada@hoster.test)`" }),
    acknowledgeComment: z.string().nullable(),
    resolvedAt: z.string().nullable(),
    suppressedBy: z.string().nullable(),
  })
  .openapi('Alert');

export const AlertDetailSchema = AlertSchema.extend({
  notifications: z.array(
    z.object({ sequence: z.number(), channel: z.string(), event: z.string(), status: z.string(), attempts: z.number(), lastError: z.string().nullable(), createdAt: z.string(), sentAt: z.string().nullable() }),
  ),
}).openapi('AlertDetail');

export const AlertListQuery = z.object({
  state: z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (!s) return undefined;
      const states = s.split(',');
      const bad = states.find((x) => !(ALERT_STATES as readonly string[]).includes(x));
      if (bad) {
        ctx.addIssue({ code: 'custom', message: `unknown state "${bad}" (one of ${ALERT_STATES.join(', ')})` });
        return z.NEVER;
      }
      return states as Array<(typeof ALERT_STATES)[number]>;
    })
    .openapi({ description: 'Comma-separated states' }),
  ruleId: z.uuid({ error: 'must be a UUID' }).optional(),
  resourceId: z.uuid({ error: 'must be a UUID' }).optional(),
  firedOnly: z.enum(['true', 'false']).optional().transform((v) => v === 'true'),
  before: Instant.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const AcknowledgeBody = z.object({ comment: SafeText(1000).default('') }).openapi('AcknowledgeAlert');

export const RuleBody = z
  .object({
    name: SafeText(100).min(1),
    metric: z.enum(ALERT_METRICS),
    kinds: z.array(z.enum(MONITORED_KINDS)).max(MONITORED_KINDS.length).default([]),
    scope: ScopeSchema,
    comparison: z.enum(COMPARISONS),
    threshold: z.number().finite(),
    clearThreshold: z.number().finite().optional(),
    forSeconds: z.number().int().min(0).max(86_400).default(60),
    severity: z.enum(ALERT_SEVERITIES).default('warning'),
    emails: z.array(z.email({ error: 'must be an email address' }).max(254)).max(20).default([]),
    webhookUrl: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .max(2000)
      .nullable()
      .optional(),
    webhookSecret: z.string().min(16, 'use at least 16 characters').max(200).nullable().optional(),
    repeatSeconds: z.number().int().min(0).max(7 * 86_400).default(0),
    noData: z.enum(NO_DATA_ACTIONS).default('alert'),
    noDataSeconds: z.number().int().min(1).max(86_400).default(300),
    enabled: z.boolean().default(true),
  })
  .strict()
  .openapi('AlertRuleInput');

export const RuleSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    metric: z.string(),
    kinds: z.array(z.string()),
    scope: ScopeSchema,
    comparison: z.string(),
    threshold: z.number(),
    clearThreshold: z.number(),
    forSeconds: z.number(),
    severity: z.enum(ALERT_SEVERITIES),
    emails: z.array(z.string()),
    webhookUrl: z.string().nullable(),
    webhookSigned: z.boolean(),
    repeatSeconds: z.number(),
    noData: z.string(),
    noDataSeconds: z.number(),
    enabled: z.boolean(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('AlertRule');

export const SilenceBody = z
  .object({
    matchers: z
      .object({ ruleId: z.uuid({ error: 'must be a UUID' }).optional(), resourceId: z.uuid({ error: 'must be a UUID' }).optional(), severity: z.enum(ALERT_SEVERITIES).optional(), tag: z.string().min(1).max(64).optional() })
      .strict(),
    startsAt: Instant.optional(),
    endsAt: Instant,
    comment: SafeText(500).default(''),
  })
  .strict()
  .openapi('SilenceInput');

export const SilenceSchema = z
  .object({
    id: z.string(),
    matchers: z.object({ ruleId: z.string().optional(), resourceId: z.string().optional(), severity: z.string().optional(), tag: z.string().optional() }),
    startsAt: z.string(),
    endsAt: z.string(),
    comment: z.string(),
    createdBy: z.string(),
    active: z.boolean(),
  })
  .openapi('Silence');

export const SilenceListQuery = z.object({ includeExpired: z.enum(['true', 'false']).optional().transform((v) => v === 'true') });

export const WindowBody = z
  .object({ name: SafeText(100).min(1), scope: ScopeSchema, startsAt: Instant, endsAt: Instant, repeatWeekly: z.boolean().default(false) })
  .strict()
  .openapi('MaintenanceWindowInput');

export const WindowSchema = z
  .object({ id: z.string(), name: z.string(), scope: ScopeSchema, startsAt: z.string(), endsAt: z.string(), repeatWeekly: z.boolean(), createdBy: z.string() })
  .openapi('MaintenanceWindow');

export const OverviewSchema = z
  .object({
    failingRuns: z.array(z.object({ workflowId: z.string(), runId: z.string(), operation: z.string().nullable(), workflowType: z.string(), status: z.enum([...RUN_STATUSES, 'Unknown']), startedAt: z.string().nullable(), closedAt: z.string().nullable(), durationMs: z.number().nullable(), resources: z.array(z.string()), actor: z.string().nullable() })),
    firingAlerts: z.array(AlertSchema),
    busiest: z.array(ResourceSchema),
    unreachable: z.array(ResourceSchema),
  })
  .openapi('MonitoringOverview');
