import type { Database } from '@keelson/db';
import { alertRules, metricSamples, monitoredResources, type MonitoredKind, type SampleValues } from '@keelson/db/schema';
import { and, eq, inArray, sql } from 'drizzle-orm';

/**
 * Writing what a collection read: one upsert of the resources (latest values, counters, status)
 * and one insert of their samples, whatever their number. Counters (cumulative bytes, CPU time)
 * become rates against the previous reading kept on the resource row.
 */

export interface ResourceReading {
  kind: MonitoredKind;
  key: string;
  name: string;
  refId?: string | null;
  clusterId?: string | null;
  node?: string | null;
  tags?: string[];
  status: string;
  /** Values measured directly (percentages, bytes held, up, latency). */
  values: SampleValues;
  /** Cumulative counters; each `rates` entry turns one into a per-second value. */
  counters?: Record<string, number>;
  /** `{ netInBps: 'netin' }`: the rate of counter `netin` since the last reading goes to netInBps. */
  rates?: Partial<Record<keyof SampleValues, string>>;
  /** Set to skip the sample (a stopped guest keeps its row, with nothing to chart). */
  noSample?: boolean;
}

export interface StoredResource {
  id: string;
  key: string;
  kind: MonitoredKind;
  inserted: boolean;
  /** When the resource had its previous sample (null: never), for gap backfill. */
  previousSampleAt: Date | null;
}

/** Counters kept between readings carry the time they were read under this key. */
const AT = '_at';

/** Per-second rate of a counter between two readings; a counter that went back (a restart) gives none. */
function rate(previous: Record<string, number>, current: Record<string, number>, name: string, nowMs: number): number | undefined {
  const before = previous[name];
  const after = current[name];
  const then = previous[AT];
  if (before === undefined || after === undefined || then === undefined || after < before) return undefined;
  const seconds = (nowMs - then) / 1000;
  return seconds > 0 ? (after - before) / seconds : undefined;
}

export async function storeReadings(db: Database, tenantId: string, readings: ResourceReading[], at = new Date()): Promise<StoredResource[]> {
  if (readings.length === 0) return [];
  const kinds = [...new Set(readings.map((r) => r.kind))];
  const existing = await db
    .select({ kind: monitoredResources.kind, key: monitoredResources.key, counters: monitoredResources.counters, lastSampleAt: monitoredResources.lastSampleAt })
    .from(monitoredResources)
    .where(and(eq(monitoredResources.tenantId, tenantId), inArray(monitoredResources.kind, kinds)));
  const before = new Map(existing.map((row) => [`${row.kind}\u0000${row.key}`, row]));
  const nowMs = at.getTime();

  const rows = readings.map((reading) => {
    const previous = before.get(`${reading.kind}\u0000${reading.key}`);
    const values: SampleValues = { ...reading.values };
    for (const [field, counter] of Object.entries(reading.rates ?? {})) {
      const value = rate(previous?.counters ?? {}, reading.counters ?? {}, counter!, nowMs);
      if (value !== undefined) values[field as keyof SampleValues] = value;
    }
    return {
      tenantId,
      kind: reading.kind,
      key: reading.key,
      name: reading.name,
      refId: reading.refId ?? null,
      clusterId: reading.clusterId ?? null,
      node: reading.node ?? null,
      tags: reading.tags ?? [],
      status: reading.status,
      lastValues: values,
      lastSampleAt: reading.noSample ? (previous?.lastSampleAt ?? null) : at,
      counters: { ...(reading.counters ?? {}), [AT]: nowMs },
      seenAt: at,
    };
  });

  const stored = await db
    .insert(monitoredResources)
    .values(rows)
    .onConflictDoUpdate({
      target: [monitoredResources.tenantId, monitoredResources.kind, monitoredResources.key],
      set: {
        name: sql`excluded.name`,
        refId: sql`coalesce(excluded.ref_id, ${monitoredResources.refId})`,
        clusterId: sql`excluded.cluster_id`,
        node: sql`excluded.node`,
        tags: sql`excluded.tags`,
        status: sql`excluded.status`,
        lastValues: sql`excluded.last_values`,
        lastSampleAt: sql`excluded.last_sample_at`,
        counters: sql`excluded.counters`,
        seenAt: sql`excluded.seen_at`,
      },
    })
    .returning({ id: monitoredResources.id, key: monitoredResources.key, kind: monitoredResources.kind, inserted: sql<boolean>`(xmax = 0)` });

  const ids = new Map(stored.map((row) => [`${row.kind}\u0000${row.key}`, row.id]));
  const samples = rows
    .filter((_, i) => !readings[i]!.noSample)
    .map((row) => ({ resourceId: ids.get(`${row.kind}\u0000${row.key}`)!, tenantId, at, ...row.lastValues }));
  // Thousands of guests: in slices, to stay far below Postgres's 65535 parameters per statement.
  for (let i = 0; i < samples.length; i += 1000) {
    await db.insert(metricSamples).values(samples.slice(i, i + 1000)).onConflictDoNothing();
  }
  if (stored.some((row) => row.inserted && (row.kind === 'docker_node' || row.kind === 'proxmox_cluster'))) await ensureHealthRule(db, tenantId);
  return stored.map((row) => ({ ...row, previousSampleAt: before.get(`${row.kind}\u0000${row.key}`)?.lastSampleAt ?? null }));
}

/** Samples from a source's own history (Proxmox's rrddata) for one resource; existing instants are kept. */
export async function storeHistory(db: Database, tenantId: string, resourceId: string, points: Array<{ at: Date; values: SampleValues }>): Promise<number> {
  if (points.length === 0) return 0;
  const inserted = await db
    .insert(metricSamples)
    .values(points.map((p) => ({ resourceId, tenantId, at: p.at, ...p.values })))
    .onConflictDoNothing()
    .returning({ at: metricSamples.at });
  return inserted.length;
}

/** Marks a source (a node, a cluster) unreachable: its latest values and a sample say `up: 0`. */
export async function markUnreachable(
  db: Database,
  where: { tenantId: string; kind: MonitoredKind; key: string; name: string; refId?: string; clusterId?: string | null; node?: string | null },
  at = new Date(),
): Promise<string> {
  const [row] = await db
    .insert(monitoredResources)
    .values({ tenantId: where.tenantId, kind: where.kind, key: where.key, name: where.name, refId: where.refId ?? null, clusterId: where.clusterId ?? null, node: where.node ?? null, status: 'unreachable', lastValues: { up: 0 }, lastSampleAt: at, seenAt: at })
    .onConflictDoUpdate({
      target: [monitoredResources.tenantId, monitoredResources.kind, monitoredResources.key],
      set: { status: 'unreachable', lastValues: { up: 0 }, lastSampleAt: at, seenAt: at },
    })
    .returning({ id: monitoredResources.id, inserted: sql<boolean>`(xmax = 0)` });
  await db.insert(metricSamples).values({ resourceId: row!.id, tenantId: where.tenantId, at, up: 0 }).onConflictDoNothing();
  if (row!.inserted) await ensureHealthRule(db, where.tenantId);
  return row!.id;
}

/** The rule every organization gets once it has a node or a cluster: tell me when one stops answering. */
export const HEALTH_RULE_NAME = 'Node or cluster unreachable';

async function ensureHealthRule(db: Database, tenantId: string): Promise<void> {
  await db
    .insert(alertRules)
    .values({
      tenantId,
      name: HEALTH_RULE_NAME,
      metric: 'up',
      kinds: ['docker_node', 'proxmox_node', 'proxmox_cluster'],
      scope: { type: 'all' },
      comparison: '<',
      threshold: 1,
      clearThreshold: 1,
      forSeconds: 60,
      severity: 'critical',
      noData: 'ignore',
    })
    .onConflictDoNothing();
}
