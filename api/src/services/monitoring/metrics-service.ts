import { alerts, metricRollups, metricSamples, monitoredResources, SAMPLE_FIELDS, type MonitoredKind, type SampleValues } from '@keelson/db/schema';
import { and, asc, desc, eq, gte, inArray, lte, sql } from 'drizzle-orm';
import { NotFoundError, ValidationError } from '../../errors';
import type { ServiceContext } from '../context';
import { listRuns } from '../runs-service';
import { presentAlert } from './alerts-service';

type ResourceRow = typeof monitoredResources.$inferSelect;

/** How long raw samples are answered from; older ranges come from the 5-minute rollups. */
const RAW_WINDOW_MS = 24 * 3600_000;
/** A chart needs no more points than it has pixels. */
const MAX_POINTS = 720;

export function presentResource(r: ResourceRow) {
  return {
    id: r.id,
    kind: r.kind,
    name: r.name,
    refId: r.refId,
    clusterId: r.clusterId,
    node: r.node,
    tags: r.tags,
    status: r.status,
    lastSampleAt: r.lastSampleAt?.toISOString() ?? null,
    lastValues: r.lastValues,
  };
}
export type MonitoredResource = ReturnType<typeof presentResource>;

export interface SeriesPoint extends SampleValues {
  /** ISO time of the sample (or the start of its bucket). */
  at: string;
}

export async function listResources(ctx: ServiceContext, filter: { kind?: MonitoredKind; refId?: string }) {
  const rows = await ctx.deps.db
    .select()
    .from(monitoredResources)
    .where(and(eq(monitoredResources.tenantId, ctx.principal.tenantId), filter.kind ? eq(monitoredResources.kind, filter.kind) : undefined, filter.refId ? eq(monitoredResources.refId, filter.refId) : undefined))
    .orderBy(asc(monitoredResources.kind), asc(monitoredResources.name));
  return rows.map(presentResource);
}

export async function requireResource(ctx: ServiceContext, id: string): Promise<ResourceRow> {
  const [row] = await ctx.deps.db.select().from(monitoredResources).where(and(eq(monitoredResources.tenantId, ctx.principal.tenantId), eq(monitoredResources.id, id)));
  if (!row) throw new NotFoundError('monitored resource');
  return row;
}

/** The resource that stands for a Keelson record (a guest, a container, a node, an app). */
export async function resourceByRef(ctx: ServiceContext, kind: MonitoredKind, refId: string): Promise<ResourceRow> {
  const [row] = await ctx.deps.db
    .select()
    .from(monitoredResources)
    .where(and(eq(monitoredResources.tenantId, ctx.principal.tenantId), eq(monitoredResources.kind, kind), eq(monitoredResources.refId, refId)))
    .orderBy(desc(monitoredResources.seenAt))
    .limit(1);
  if (!row) throw new NotFoundError(`metrics for this ${kind.replace('_', ' ')} (not collected yet)`);
  return row;
}

/**
 * One resource's points between `from` and `to`: raw samples for the last day, 5-minute rollups
 * before that, averaged further into at most MAX_POINTS buckets. One index range scan either way.
 */
export async function series(ctx: ServiceContext, resource: ResourceRow, range: { from: Date; to: Date }): Promise<{ resolution: 'raw' | '5m'; stepSeconds: number | null; points: SeriesPoint[] }> {
  const { from, to } = range;
  if (!(from < to)) throw new ValidationError('from: must be before to', { issues: [{ path: 'from', message: 'must be before to' }] });
  const spanMs = to.getTime() - from.getTime();
  const useRaw = Date.now() - from.getTime() <= RAW_WINDOW_MS + 60_000;
  const table = useRaw ? metricSamples : metricRollups;
  const time = useRaw ? metricSamples.at : metricRollups.bucket;
  const step = Math.max(useRaw ? 0 : 300, Math.ceil(spanMs / 1000 / MAX_POINTS));
  const columns = SAMPLE_FIELDS.map((f) => [f, table[f]] as const);
  const where = and(eq(table.resourceId, resource.id), eq(table.tenantId, ctx.principal.tenantId), gte(time, from), lte(time, to));
  let rows: Array<Record<string, unknown>>;
  if (useRaw && step <= 1) {
    rows = await ctx.deps.db
      .select({ at: time, ...Object.fromEntries(columns) })
      .from(table)
      .where(where)
      .orderBy(asc(time));
  } else {
    const bucket = sql<Date>`to_timestamp(floor(extract(epoch from ${time}) / ${step}) * ${step})`;
    rows = await ctx.deps.db
      .select({ at: bucket.as('b'), ...Object.fromEntries(columns.map(([f, c]) => [f, sql<number>`avg(${c})`.mapWith(Number)])) })
      .from(table)
      .where(where)
      .groupBy(sql`b`)
      .orderBy(sql`b`);
  }
  const points = rows.map((row) => {
    const point: SeriesPoint = { at: new Date(row.at as string | Date).toISOString() };
    for (const [f] of columns) if (row[f] !== null && row[f] !== undefined) point[f] = Number(row[f]);
    return point;
  });
  return { resolution: useRaw ? 'raw' : '5m', stepSeconds: useRaw && step <= 1 ? null : step, points };
}

/** What a person opens first: runs failing now, alerts firing, the busiest resources, what is unreachable. */
export async function overview(ctx: ServiceContext) {
  const db = ctx.deps.db;
  const tenantId = ctx.principal.tenantId;
  const since = new Date(Date.now() - 24 * 3600_000).toISOString();
  const canReadRuns = ctx.principal.permissions.has('workflow.read');
  const [failed, firing, busiest, unreachable] = await Promise.all([
    canReadRuns ? listRuns(ctx, { status: 'Failed', from: since, pageSize: 10 }).then((r) => r.items) : Promise.resolve([]),
    db
      .select({ alert: alerts, resourceName: monitoredResources.name, resourceKind: monitoredResources.kind })
      .from(alerts)
      .leftJoin(monitoredResources, eq(monitoredResources.id, alerts.resourceId))
      .where(and(eq(alerts.tenantId, tenantId), inArray(alerts.state, ['firing', 'acknowledged'])))
      .orderBy(sql`case ${alerts.severity} when 'critical' then 0 when 'warning' then 1 else 2 end`, desc(alerts.firedAt))
      .limit(50),
    db
      .select()
      .from(monitoredResources)
      .where(and(eq(monitoredResources.tenantId, tenantId), inArray(monitoredResources.kind, ['docker_node', 'container', 'app', 'proxmox_node', 'guest']), gte(monitoredResources.lastSampleAt, new Date(Date.now() - 15 * 60_000)), sql`${monitoredResources.lastValues} ? 'cpuPercent'`))
      .orderBy(sql`(${monitoredResources.lastValues}->>'cpuPercent')::float desc`)
      .limit(8),
    db
      .select()
      .from(monitoredResources)
      .where(and(eq(monitoredResources.tenantId, tenantId), inArray(monitoredResources.status, ['unreachable', 'offline'])))
      .limit(20),
  ]);
  return {
    failingRuns: failed,
    firingAlerts: firing.map((row) => presentAlert(row.alert, row.resourceName, row.resourceKind)),
    busiest: busiest.map(presentResource),
    unreachable: unreachable.map(presentResource),
  };
}
