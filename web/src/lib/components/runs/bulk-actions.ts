/**
 * Bulk cancel / retry on the runs list: which selected runs each action applies to, running the
 * calls a few at a time, and the line that sums up what happened.
 *
 * Pure and free of SvelteKit imports, so Node tests run it.
 */
import type { RunSummary } from '../../api/types';

export type BulkAction = 'cancel' | 'retry';

type RunRef = Pick<RunSummary, 'workflowId' | 'runId'>;

/** A run's selection key: one workflow id can have several runs (a retry is a new run). */
export const runKey = (run: RunRef) => `${run.workflowId}\n${run.runId}`;

/** The statuses each action applies to (the API checks again). */
const APPLIES_TO: Record<BulkAction, readonly string[]> = {
  cancel: ['Running'],
  retry: ['Failed', 'TimedOut', 'Canceled', 'Terminated'],
};

/** The selected runs, in list order, that `action` applies to. */
export function applicableRuns<R extends Pick<RunSummary, 'workflowId' | 'runId' | 'status'>>(
  runs: readonly R[],
  selected: ReadonlySet<string>,
  action: BulkAction,
): R[] {
  return runs.filter((r) => selected.has(runKey(r)) && APPLIES_TO[action].includes(r.status));
}

/** The selection without the runs no longer listed (after a refresh). */
export function keepListed(selected: ReadonlySet<string>, runs: readonly RunRef[]): Set<string> {
  const listed = new Set(runs.map(runKey));
  return new Set([...selected].filter((k) => listed.has(k)));
}

/** Calls `fn` for each item, at most `limit` at a time; the outcomes in the items' order. */
export async function settleLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await fn(items[i] as T) };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return results;
}

const reasonOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** `Cancelled 3 · 1 failed: <reason>`; distinct reasons joined with `; `. */
export function bulkSummary(action: BulkAction, results: readonly PromiseSettledResult<unknown>[]): string {
  const done = results.filter((r) => r.status === 'fulfilled').length;
  const reasons = [...new Set(results.flatMap((r) => (r.status === 'rejected' ? [reasonOf(r.reason)] : [])))];
  const failed = results.length - done;
  const head = `${action === 'cancel' ? 'Cancelled' : 'Retried'} ${done}`;
  return failed ? `${head} · ${failed} failed: ${reasons.join('; ')}` : head;
}
