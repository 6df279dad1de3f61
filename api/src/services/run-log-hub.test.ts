import { RUN_LOG_CHANNEL } from '@keelson/common/constants';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb } from '../../../test/platform';
import { RunLogHub } from './run-log-hub';

describe('RunLogHub', () => {
  let db: Awaited<ReturnType<typeof createTestDb>>;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(() => db.drop());

  const until = async (check: () => boolean | Promise<boolean>) => {
    for (let i = 0; i < 100 && !(await check()); i++) await new Promise((r) => setTimeout(r, 20));
  };
  const listeners = async () =>
    Number((await db.pool.query(`select count(*) from pg_stat_activity where datname = current_database() and query like 'LISTEN%'`)).rows[0].count);

  it('wakes the subscribers of a workflow on NOTIFY, and only those', async () => {
    const hub = new RunLogHub(db.pool);
    const woken: string[] = [];
    const off = hub.subscribe('wf-a', () => woken.push('a'));
    hub.subscribe('wf-b', () => woken.push('b'));
    await until(async () => (await listeners()) === 1);
    await db.pool.query(`select pg_notify($1, 'wf-a')`, [RUN_LOG_CHANNEL]);
    await until(() => woken.length > 0);
    expect(woken).toEqual(['a']);
    off();
    await hub.close();
  });

  it('survives its connection being killed, before and after close', async () => {
    const hub = new RunLogHub(db.pool);
    const woken: string[] = [];
    hub.subscribe('wf-c', () => woken.push('c'));
    await until(async () => (await listeners()) === 1);
    await db.pool.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query like 'LISTEN%'`);
    // A new subscription listens again on a fresh connection.
    await new Promise((r) => setTimeout(r, 100));
    hub.subscribe('wf-c', () => woken.push('c2'));
    await until(async () => (await listeners()) === 1);
    await db.pool.query(`select pg_notify($1, 'wf-c')`, [RUN_LOG_CHANNEL]);
    await until(() => woken.length >= 2);
    expect(woken).toEqual(['c', 'c2']);

    // Closed, its connection goes back to the pool; killing it there must not reach the hub.
    await hub.close();
    await db.pool.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`);
    await new Promise((r) => setTimeout(r, 200));
    expect((await db.pool.query('select 1 as ok')).rows[0].ok).toBe(1);
  });
});
