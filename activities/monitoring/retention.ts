import type { Database } from '@keelson/db';
import { sql } from 'drizzle-orm';

/**
 * Retention and downsampling: complete 5-minute buckets of raw samples become rollups (averages,
 * and the CPU's maximum), raw samples older than `rawRetentionMs` and rollups older than
 * `rollupRetentionMs` are deleted. Safe to repeat: a bucket's rollup is recomputed from the raw
 * samples still there and replaces itself, so a rerun after a crash writes the same rows.
 */

export interface RetentionPolicy {
  /** Raw samples are kept this long. Default one day. */
  rawRetentionMs: number;
  /** Rollups are kept this long. Default 30 days. */
  rollupRetentionMs: number;
  /** Rollup bucket. Default 5 minutes. */
  bucketMs: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { rawRetentionMs: 24 * 3600_000, rollupRetentionMs: 30 * 24 * 3600_000, bucketMs: 5 * 60_000 };

const AVG = ['cpu_percent', 'mem_used_bytes', 'mem_total_bytes', 'mem_cache_bytes', 'disk_used_bytes', 'disk_total_bytes', 'net_in_bps', 'net_out_bps', 'disk_read_bps', 'disk_write_bps', 'up', 'latency_ms'];

export function createRetentionActivities({ db, policy = DEFAULT_RETENTION }: { db: Database; policy?: RetentionPolicy }) {
  return {
    async rollupAndPrune(input: { now?: number } = {}): Promise<{ rolledUp: number; rawDeleted: number; rollupsDeleted: number }> {
      const now = input.now ?? Date.now();
      const bucketSeconds = policy.bucketMs / 1000;
      // Every complete bucket whose raw samples are all still kept is re-rolled (late samples
      // count); older buckets were rolled while they were whole and are left as they are.
      const upTo = new Date(Math.floor(now / policy.bucketMs) * policy.bucketMs);
      const from = new Date(Math.ceil((now - policy.rawRetentionMs) / policy.bucketMs) * policy.bucketMs);
      const bucket = sql.raw(`to_timestamp(floor(extract(epoch from at) / ${bucketSeconds}) * ${bucketSeconds})`);
      const columns = AVG.join(', ');
      const averages = AVG.map((c) => `avg(${c})`).join(', ');
      const rolled = await db.execute(sql`
        insert into metric_rollups (resource_id, bucket, tenant_id, samples, cpu_max_percent, ${sql.raw(columns)})
        select resource_id, ${bucket} as b, min(tenant_id::text)::uuid, count(*), max(cpu_percent), ${sql.raw(averages)}
        from metric_samples
        where at < ${upTo.toISOString()}::timestamptz and at >= ${from.toISOString()}::timestamptz
        group by resource_id, b
        on conflict (resource_id, bucket) do update set samples = excluded.samples, cpu_max_percent = excluded.cpu_max_percent,
          ${sql.raw(AVG.map((c) => `${c} = excluded.${c}`).join(', '))}`);
      const raw = await db.execute(sql`delete from metric_samples where at < ${new Date(now - policy.rawRetentionMs).toISOString()}::timestamptz`);
      const old = await db.execute(sql`delete from metric_rollups where bucket < ${new Date(now - policy.rollupRetentionMs).toISOString()}::timestamptz`);
      return { rolledUp: rolled.rowCount ?? 0, rawDeleted: raw.rowCount ?? 0, rollupsDeleted: old.rowCount ?? 0 };
    },
  };
}

export type RetentionActivities = ReturnType<typeof createRetentionActivities>;
