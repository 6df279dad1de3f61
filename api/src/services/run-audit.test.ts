import { auditWriter, createPostgresDataKeys, type Database } from '@keelson/db';
import { auditLog, organizationKeys } from '@keelson/db/schema';
import { parseKeyRing } from '@keelson/common/codec';
import { and, eq } from 'drizzle-orm';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type TestPlatform } from '../../../test/platform';

/**
 * The start path's shared work: audit rows of concurrent starts go out together (group commit)
 * and each start still answers only once its own row is committed; an organization's data key
 * is read once however many starts need it at the same moment.
 */
describe('run audit rows under concurrent starts', () => {
  let p: TestPlatform;
  let tenantId: string;
  let key: string;

  beforeAll(async () => {
    p = await createTestPlatform();
    tenantId = (await p.createTenant()).id;
    key = await p.createApiKey({ tenantId, scopes: ['workflow.start', 'workflow.read'] });
  });
  afterAll(async () => {
    await p?.close();
  });

  const startNoop = () =>
    p.request('/api/runs', { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: { operation: 'system.noop', input: {} } });

  it('answers each of 40 concurrent starts only after its own audit row committed', async () => {
    const writer = auditWriter(p.db);
    const before = { ...writer.stats };
    // Read on a connection of its own the moment each answer arrives: the row must already be there.
    const seenAtAnswer = await Promise.all(
      Array.from({ length: 40 }, async () => {
        const res = await startNoop();
        expect(res.status).toBe(201);
        const run = (await res.json()) as { workflowId: string; runId: string };
        const rows = await p.db
          .select({ actorId: auditLog.actorId, details: auditLog.details, tenantId: auditLog.tenantId })
          .from(auditLog)
          .where(and(eq(auditLog.action, 'run.start'), eq(auditLog.resourceId, run.workflowId)));
        return { run, rows };
      }),
    );
    for (const { run, rows } of seenAtAnswer) {
      expect(rows).toHaveLength(1);
      expect(rows[0]!.tenantId).toBe(tenantId);
      expect(rows[0]!.actorId).toMatch(/^[0-9a-f-]{36}$/);
      expect(rows[0]!.details).toMatchObject({ operation: 'system.noop', runId: run.runId });
    }
    // Through the grouped writer (how many share an insert depends on when Temporal answers).
    expect(writer.stats.rows - before.rows).toBe(40);
  });

  it("groups rows written at once, and fails only the row that cannot be written, keeping the others'", async () => {
    const writer = auditWriter(p.db);
    const before = { ...writer.stats };
    const marker = randomUUID();
    const entry = (tenant: string, i: number) => ({
      tenantId: tenant,
      actorType: 'system' as const,
      actorId: null,
      action: 'test.grouped',
      resourceType: 'test',
      resourceId: `${marker}-${i}`,
    });
    // 30 rows at once: 4 inserts go out, the 26 rows arriving meanwhile wait and go out together.
    const grouped = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => writer.write(entry(tenantId, 100 + i))));
    expect(grouped.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(writer.stats.rows - before.rows).toBe(30);
    expect(writer.stats.inserts - before.inserts).toBeLessThanOrEqual(5);

    // 30 rows at once, one of them for an organization that does not exist (a foreign key violation).
    const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => writer.write(entry(i === 17 ? randomUUID() : tenantId, i))));
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(results[17]!.status).toBe('rejected');
    const reason = (results[17] as PromiseRejectedResult).reason as Error & { cause?: Error };
    // Its own row's failure: the single insert of that row (drizzle's error, Postgres's as the cause).
    expect(reason.message).toContain(`${marker}-17`);
    expect(String(reason.cause?.message)).toMatch(/foreign key/i);
    const written = await p.db.select({ resourceId: auditLog.resourceId }).from(auditLog).where(eq(auditLog.action, 'test.grouped'));
    const ours = written.map((r) => r.resourceId).filter((id) => id?.startsWith(marker));
    const expected = [...Array.from({ length: 30 }, (_, i) => `${marker}-${100 + i}`), ...Array.from({ length: 30 }, (_, i) => `${marker}-${i}`).filter((id) => id !== `${marker}-17`)];
    expect(ours.sort()).toEqual(expected.sort());
  });

  it("reads an organization's active data key once for 50 payloads sealed at the same moment", async () => {
    let selects = 0;
    // The real database; only its select() calls are counted.
    const counting = new Proxy(p.db, {
      get(target, prop, receiver) {
        if (prop === 'select') selects++;
        return Reflect.get(target, prop, receiver) as unknown;
      },
    }) as Database;
    const keys = createPostgresDataKeys(counting, parseKeyRing(`t:${randomBytes(32).toString('base64')}`));
    const org = (await p.createTenant()).id;
    const got = await Promise.all(Array.from({ length: 50 }, () => keys.active(org)));
    expect(new Set(got.map((k) => k.version))).toEqual(new Set([1]));
    expect(new Set(got.map((k) => k.key.toString('hex'))).size).toBe(1);
    // The version (twice: none yet, then the one made) and the sealed key: not 50 reads of each.
    expect(selects).toBeLessThanOrEqual(3);
    expect(await p.db.select().from(organizationKeys).where(eq(organizationKeys.tenantId, org))).toHaveLength(1);
  });
});
