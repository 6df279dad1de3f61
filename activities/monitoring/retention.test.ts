import { metricRollups, metricSamples, monitoredResources } from '@keelson/db/schema';
import { and, eq, gte, lt } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../test/platform';
import { createRetentionActivities } from './retention';

/**
 * Retention and downsampling as an operator relies on them: a day of raw samples, 5-minute
 * rollups (averages and the CPU's maximum) for the month, nothing older; the same result when
 * the hourly run repeats; and the chart API reading raw points for the last day and rollups
 * beyond it. "Now" is injected, so 30 hours of minute samples are written at once.
 */
describe('metrics retention and rollups', () => {
  let p: TestPlatform;
  let viewer: SignedIn;
  let resourceId: string;
  const MINUTE = 60_000;
  const BUCKET = 5 * MINUTE;
  // A bucket boundary, so every 5-minute bucket of the day is whole.
  const now = Math.floor(Date.now() / BUCKET) * BUCKET;
  const cpuAt = (t: number) => ((t / MINUTE) % 10) * 10; // 0, 10, … 90 % minute after minute

  beforeAll(async () => {
    p = await createTestPlatform();
    const tenant = await p.createTenant();
    viewer = await p.signIn({ tenantId: tenant.id, role: 'viewer' });
    const [row] = await p.db
      .insert(monitoredResources)
      .values({ tenantId: tenant.id, kind: 'guest', key: `c/${randomUUID()}`, name: 'db-1', status: 'running', lastSampleAt: new Date(now) })
      .returning({ id: monitoredResources.id });
    resourceId = row!.id;
    // 30 hours of one sample a minute, the last one a minute before now.
    const samples = Array.from({ length: 30 * 60 }, (_, i) => {
      const at = now - (30 * 60 - i) * MINUTE;
      return { resourceId, tenantId: tenant.id, at: new Date(at), cpuPercent: cpuAt(at), memUsedBytes: 1000 + i };
    });
    for (let i = 0; i < samples.length; i += 500) await p.db.insert(metricSamples).values(samples.slice(i, i + 500));
    // A rollup from 31 days ago: past the month.
    await p.db.insert(metricRollups).values({ resourceId, tenantId: tenant.id, bucket: new Date(now - 31 * 24 * 3600_000), samples: 5, cpuPercent: 50, cpuMaxPercent: 90 });
  });
  afterAll(async () => {
    await p?.close();
  });

  const rollupsOf = () => p.db.select().from(metricRollups).where(eq(metricRollups.resourceId, resourceId)).orderBy(metricRollups.bucket);

  it('keeps a day of raw samples and a month of 5-minute rollups; a repeated run changes nothing', async () => {
    const retention = createRetentionActivities({ db: p.db });
    const first = await retention.rollupAndPrune({ now });
    // Raw: exactly the last 24 hours are left.
    const raw = await p.db.select({ at: metricSamples.at }).from(metricSamples).where(eq(metricSamples.resourceId, resourceId));
    expect(raw).toHaveLength(24 * 60);
    expect(Math.min(...raw.map((r) => r.at.getTime()))).toBe(now - 24 * 60 * MINUTE);
    expect(first.rawDeleted).toBe(6 * 60);

    // Rollups: one per 5 minutes of the day, each the average of its 5 samples and their maximum.
    const rollups = await rollupsOf();
    expect(rollups.map((r) => r.bucket.getTime())).not.toContain(now - 31 * 24 * 3600_000);
    expect(rollups).toHaveLength(24 * 12);
    for (const r of rollups) {
      const minutes = [0, 1, 2, 3, 4].map((m) => cpuAt(r.bucket.getTime() + m * MINUTE));
      expect(r.samples).toBe(5);
      expect(r.cpuPercent).toBeCloseTo(minutes.reduce((a, b) => a + b, 0) / 5, 6);
      expect(r.cpuMaxPercent).toBe(Math.max(...minutes));
    }
    expect(first.rollupsDeleted).toBe(1);

    // The hourly run repeats (after a crash, or simply an hour on): the same rows.
    const again = await retention.rollupAndPrune({ now });
    expect(again).toMatchObject({ rawDeleted: 0, rollupsDeleted: 0, rolledUp: 24 * 12 });
    expect(await rollupsOf()).toEqual(rollups);
    // Nothing of the day was touched in the raw table either.
    const stillRaw = await p.db.select({ at: metricSamples.at }).from(metricSamples).where(and(eq(metricSamples.resourceId, resourceId), gte(metricSamples.at, new Date(now - 24 * 60 * MINUTE)), lt(metricSamples.at, new Date(now))));
    expect(stillRaw).toHaveLength(24 * 60);
  });

  it('charts read raw points for the last day and 5-minute rollups for a week', async () => {
    const series = async (range: string) => {
      const res = await p.request(`/api/monitoring/resources/${resourceId}/series?range=${range}`, { headers: viewer.headers });
      expect(res.status).toBe(200);
      return (await res.json()) as { resolution: string; stepSeconds: number | null; points: Array<{ at: string; cpuPercent?: number }> };
    };
    const hour = await series('1h');
    expect(hour.resolution).toBe('raw');
    const last = hour.points.at(-1)!;
    expect(last.cpuPercent).toBe(cpuAt(Date.parse(last.at)));

    const week = await series('7d');
    expect(week.resolution).toBe('5m');
    expect(week.points.length).toBeGreaterThan(50);
    // From the rollups, not the raw samples: 5-minute averages are 20 or 70, so no point of the
    // week reaches the raw samples' 0 or 90, and together they stay near the day's average of 45.
    const cpu = week.points.map((pt) => pt.cpuPercent!);
    expect(Math.max(...cpu)).toBeLessThanOrEqual(70);
    expect(Math.min(...cpu)).toBeGreaterThanOrEqual(20);
    const mean = cpu.reduce((a, b) => a + b, 0) / cpu.length;
    expect(mean).toBeGreaterThan(40);
    expect(mean).toBeLessThan(50);
  });
});
