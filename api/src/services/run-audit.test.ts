import { AuditWriter, auditWriter, createPostgresDataKeys, type Database } from '@keelson/db';
import { auditLog, organizationKeys } from '@keelson/db/schema';
import { parseKeyRing } from '@keelson/common/codec';
import { and, eq } from 'drizzle-orm';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type TestPlatform } from '../../../test/platform';
import { markRunAuditSweep, RUN_AUDIT_MEMO, sweepRunAudits } from './run-audit';

/**
 * The start path's shared work: audit rows of concurrent starts go out together (group commit),
 * after the answers, each once, under the key the run carries (decision 0037); an organization's
 * data key is read once however many starts need it at the same moment.
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

  it('writes one start row for each of 40 concurrent starts, keyed by what the run carries, and a sweep adds none', async () => {
    const writer = auditWriter(p.db, 'background');
    const before = { ...writer.stats };
    await markRunAuditSweep(p.deps, new Date(Date.now() - 60_000));
    const runs = await Promise.all(
      Array.from({ length: 40 }, async () => {
        const res = await startNoop();
        expect(res.status).toBe(201);
        return (await res.json()) as { workflowId: string; runId: string };
      }),
    );
    // The rows go out right after the answers, grouped (how many share an insert depends on when Temporal answers).
    const rowsOf = async (workflowId: string) =>
      p.db
        .select({ actorId: auditLog.actorId, actorType: auditLog.actorType, details: auditLog.details, tenantId: auditLog.tenantId, key: auditLog.key })
        .from(auditLog)
        .where(and(eq(auditLog.action, 'run.start'), eq(auditLog.resourceId, workflowId)));
    for (let i = 0; i < 100 && writer.stats.rows - before.rows < 40; i++) await new Promise((r) => setTimeout(r, 50));
    expect(writer.stats.rows - before.rows).toBe(40);
    for (const run of runs) {
      const rows = await rowsOf(run.workflowId);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.tenantId).toBe(tenantId);
      expect(rows[0]!.actorType).toBe('api_key');
      expect(rows[0]!.actorId).toMatch(/^[0-9a-f-]{36}$/);
      expect(rows[0]!.details).toMatchObject({ operation: 'system.noop', runId: run.runId, resources: [] });
      // The run carries the same row under the same key (sealed: read through the API's codec).
      const { memo } = await p.temporal.workflow.getHandle(run.workflowId, run.runId).describe();
      expect(memo?.[RUN_AUDIT_MEMO]).toMatchObject({ key: rows[0]!.key, tenantId, action: 'run.start', resourceId: run.workflowId });
    }
    // A sweep over these runs finds every row written: it writes none again.
    const swept = await sweepRunAudits(p.deps, { marginMs: 0, now: new Date(Date.now() + 5_000) });
    expect(swept).toMatchObject({ written: 0, unreadable: [] });
    expect(swept!.examined).toBeGreaterThanOrEqual(40);
    for (const run of runs) expect(await rowsOf(run.workflowId)).toHaveLength(1);
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
    // Its own row's failure: the single insert of that row, named in the error (Postgres's as the cause).
    expect(reason.message).toContain(`${marker}-17`);
    expect(String(reason.cause?.message)).toMatch(/foreign key/i);
    const written = await p.db.select({ resourceId: auditLog.resourceId }).from(auditLog).where(eq(auditLog.action, 'test.grouped'));
    const ours = written.map((r) => r.resourceId).filter((id) => id?.startsWith(marker));
    const expected = [...Array.from({ length: 30 }, (_, i) => `${marker}-${100 + i}`), ...Array.from({ length: 30 }, (_, i) => `${marker}-${i}`).filter((id) => id !== `${marker}-17`)];
    expect(ours.sort()).toEqual(expected.sort());
  });

  it('lets background rows wait for company, and sends every waiting row at once when drained', async () => {
    // A linger far longer than the test: only drain() can send these rows in time.
    const writer = new AuditWriter(p.db, 1, 60_000);
    const marker = randomUUID();
    const ours = async () =>
      (await p.db.select({ resourceId: auditLog.resourceId }).from(auditLog).where(eq(auditLog.action, 'test.lingered'))).filter((r) => r.resourceId?.startsWith(marker));
    const written = Array.from({ length: 5 }, (_, i) =>
      writer.write({ tenantId, actorType: 'system', actorId: null, action: 'test.lingered', resourceType: 'test', resourceId: `${marker}-${i}` }),
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(writer.stats).toEqual({ rows: 0, inserts: 0 });
    expect(await ours()).toHaveLength(0);

    await writer.drain();
    await Promise.all(written);
    expect(writer.stats).toEqual({ rows: 5, inserts: 1 });
    expect(await ours()).toHaveLength(5);
    await writer.drain(); // nothing waiting: resolves at once
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
