import { auditLog } from '@keelson/db/schema';
import { and, eq } from 'drizzle-orm';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestPlatform, TEST_KEY_SPEC, type TestPlatform } from '../../../test/platform';
import { freePort } from '../../../test/runs';
import { RUN_AUDIT_MEMO } from './run-audit';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/**
 * A start is answered before its audit row is written (decision 0037). The row must still exist
 * for every start: here the API process is SIGKILLed after Temporal took the run and before its
 * row reached Postgres, and the next API process writes the row from what the run carries.
 */
describe('a start whose API process died before writing its audit row', () => {
  let p: TestPlatform;
  let tenantId: string;
  let starter: string;
  let auditor: string;
  const coreTaskQueue = `core-crash-${randomBytes(4).toString('hex')}`;
  const started: string[] = [];

  beforeAll(async () => {
    p = await createTestPlatform();
    tenantId = (await p.createTenant()).id;
    starter = await p.createApiKey({ tenantId, scopes: ['workflow.start', 'workflow.read'] });
    auditor = await p.createApiKey({ tenantId, scopes: ['audit.read'] });
  });
  afterAll(async () => {
    // No worker serves this queue: end the runs so they do not wait in the shared server.
    await Promise.allSettled(started.map((id) => p.temporal.workflow.getHandle(id).terminate('test over')));
    await p?.close();
  });

  async function startApi(env: Record<string, string> = {}) {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'api/src/server.ts'], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: p.dbUrl,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        KEELSON_ENCRYPTION_KEYS: TEST_KEY_SPEC,
        KEELSON_CORE_TASK_QUEUE: coreTaskQueue,
        PORT: String(port),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c));
    child.stderr!.on('data', (c: Buffer) => (output += c));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
    const base = `http://127.0.0.1:${port}`;
    let health: Response | undefined;
    // Loading the API through tsx takes a while on a busy machine.
    const deadline = Date.now() + 90_000;
    while (!health && Date.now() < deadline) {
      health = await fetch(`${base}/api/health`).catch(() => undefined);
      if (!health) await new Promise((r) => setTimeout(r, 200));
    }
    expect(health?.status, output).toBe(200);
    return { child, exited, base, output: () => output };
  }

  const startRows = (workflowId: string) =>
    p.db.select().from(auditLog).where(and(eq(auditLog.action, 'run.start'), eq(auditLog.resourceId, workflowId)));

  async function until<T>(what: string, read: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = await read();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('answers, is killed before the row is written, and the next process writes the row once', { timeout: 300_000 }, async () => {
    // Sweeps of the first process are far apart: only the second one may write the row.
    const first = await startApi({ KEELSON_RUN_AUDIT_SWEEP_MS: '600000' });

    // Hold audit_log so the first process's insert cannot commit; reads still go through.
    const locker = new pg.Client({ connectionString: p.dbUrl });
    // Ended by the platform's teardown if the test fails while it holds the lock.
    locker.on('error', () => undefined);
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE audit_log IN SHARE MODE');

    const res = await fetch(`${first.base}/api/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${starter}`, 'content-type': 'application/json' },
      body: JSON.stringify({ operation: 'system.noop', input: {} }),
    });
    expect(res.status, first.output()).toBe(201);
    const run = (await res.json()) as { workflowId: string; runId: string };
    started.push(run.workflowId);

    // The process got as far as its insert, which waits for the lock.
    const waiting = await until('the insert waiting for the lock', async () => {
      // Read from pg_locks: an insert by a prepared statement waits while Postgres parses it,
      // before pg_stat_activity shows its text.
      const { rows } = await locker.query<{ pid: number }>(
        `select pid from pg_locks where database = (select oid from pg_database where datname = current_database()) and relation = 'audit_log'::regclass and mode = 'RowExclusiveLock' and not granted`,
      );
      return rows.length ? rows : undefined;
    }, 90_000);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    // A dead process's insert that had not reached Postgres: its statement is gone with it.
    for (const { pid } of waiting) await locker.query('select pg_terminate_backend($1)', [pid]);
    await locker.query('ROLLBACK');
    await locker.end();

    expect(await startRows(run.workflowId)).toHaveLength(0);
    const description = await p.temporal.workflow.getHandle(run.workflowId, run.runId).describe();
    expect(description.status.name).toBe('RUNNING');
    const carried = description.memo?.[RUN_AUDIT_MEMO] as { key: string };

    // The next API process sweeps at once and then every half second, looking at runs a second old.
    const second = await startApi({ KEELSON_RUN_AUDIT_SWEEP_MS: '500', KEELSON_RUN_AUDIT_MARGIN_MS: '1000' });
    try {
      const [row] = await until('the start row', async () => {
        const rows = await startRows(run.workflowId);
        return rows.length ? rows : undefined;
      });
      expect(row).toMatchObject({
        tenantId,
        actorType: 'api_key',
        resourceType: 'run',
        resourceId: run.workflowId,
        key: carried.key,
        details: { operation: 'system.noop', runId: run.runId, resources: [] },
      });
      expect(row!.actorId).toMatch(/^[0-9a-f-]{36}$/);
      // Dated when the run started, not when the sweep found it.
      expect(Math.abs(row!.createdAt.getTime() - description.startTime.getTime())).toBeLessThan(1_000);

      // Later sweeps look at the same run again (they overlap) and write nothing more.
      await new Promise((r) => setTimeout(r, 2_000));
      expect(await startRows(run.workflowId)).toHaveLength(1);

      // What an auditor reads: the start, once, in the organization's log.
      const audit = await fetch(`${second.base}/api/audit?action=run.start&resourceType=run&resourceId=${encodeURIComponent(run.workflowId)}`, {
        headers: { authorization: `Bearer ${auditor}` },
      });
      expect(audit.status).toBe(200);
      const page = (await audit.json()) as { items: Array<{ actorType: string; details: Record<string, unknown> }> };
      expect(page.items).toHaveLength(1);
      expect(page.items[0]).toMatchObject({ actorType: 'api_key', details: { runId: run.runId, operation: 'system.noop' } });
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });
});
