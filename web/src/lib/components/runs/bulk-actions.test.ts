import { describe, expect, it } from 'vitest';
import type { RunSummary } from '../../api/types';
import { applicableRuns, bulkSummary, keepListed, runKey, settleLimited } from './bulk-actions';

const run = (workflowId: string, status: RunSummary['status'], runId = `${workflowId}-r`) => ({ workflowId, runId, status });

/** The key of the listed run with this workflow id (the key ignores the status). */
const keyOf = (workflowId: string) => runKey(run(workflowId, 'Running'));

const runs = [
  run('a', 'Running'),
  run('b', 'Failed'),
  run('c', 'Completed'),
  run('d', 'TimedOut'),
  run('e', 'Canceled'),
  run('f', 'Terminated'),
  run('g', 'Running'),
  run('h', 'ContinuedAsNew'),
];

describe('applicableRuns', () => {
  it('cancels only selected running runs and retries only selected runs that ended badly', () => {
    const all = new Set(runs.map(runKey));
    expect(applicableRuns(runs, all, 'cancel').map((r) => r.workflowId)).toEqual(['a', 'g']);
    expect(applicableRuns(runs, all, 'retry').map((r) => r.workflowId)).toEqual(['b', 'd', 'e', 'f']);
    const some = new Set([keyOf('a'), keyOf('c'), keyOf('e')]);
    expect(applicableRuns(runs, some, 'cancel').map((r) => r.workflowId)).toEqual(['a']);
    expect(applicableRuns(runs, some, 'retry').map((r) => r.workflowId)).toEqual(['e']);
    expect(applicableRuns(runs, new Set(), 'cancel')).toEqual([]);
  });

  it('tells runs of one workflow id apart by run id', () => {
    const older = run('w/1', 'Failed', 'r1');
    const newer = run('w/1', 'Running', 'r2');
    const selected = new Set([runKey(older)]);
    expect(applicableRuns([newer, older], selected, 'cancel')).toEqual([]);
    expect(applicableRuns([newer, older], selected, 'retry')).toEqual([older]);
  });
});

describe('keepListed', () => {
  it('drops the selected runs a refresh no longer lists', () => {
    const selected = new Set([keyOf('a'), keyOf('b'), keyOf('gone')]);
    expect(keepListed(selected, runs)).toEqual(new Set([keyOf('a'), keyOf('b')]));
  });
});

describe('settleLimited', () => {
  it('runs at most `limit` calls at once and keeps the order of the outcomes', async () => {
    let active = 0;
    let peak = 0;
    const results = await settleLimited([1, 2, 3, 4, 5, 6, 7, 8, 9], 4, async (n) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 10 - n));
      active--;
      if (n % 3 === 0) throw new Error(`no ${n}`);
      return n * 10;
    });
    expect(peak).toBe(4);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([10, 20, 'no 3', 40, 50, 'no 6', 70, 80, 'no 9']);
    expect(await settleLimited([], 4, async () => 1)).toEqual([]);
  });
});

describe('bulkSummary', () => {
  const ok = { status: 'fulfilled', value: undefined } as const;
  const failed = (message: string) => ({ status: 'rejected', reason: new Error(message) }) as const;

  it('counts what worked and says why the rest did not', () => {
    expect(bulkSummary('cancel', [ok, ok, ok, failed('the run already ended')])).toBe('Cancelled 3 · 1 failed: the run already ended');
    expect(bulkSummary('retry', [ok, ok])).toBe('Retried 2');
    expect(bulkSummary('retry', [failed('x'), failed('x'), failed('y')])).toBe('Retried 0 · 3 failed: x; y');
  });
});
