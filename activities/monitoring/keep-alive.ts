import { Context } from '@temporalio/activity';

/**
 * Runs `work` while telling Temporal, every `everyMs`, that this worker is still at it. Monitoring's
 * rounds run every few seconds and are skipped while one is open: without a heartbeat, a round
 * whose worker died would hold collection (and every alert that waits on fresh values) until its
 * start-to-close timeout; with one, Temporal retries it after the heartbeat timeout. Outside an
 * activity (a direct call) it only runs `work`.
 */
export async function whileAlive<T>(work: () => Promise<T>, everyMs = 1000): Promise<T> {
  let context: Context;
  try {
    context = Context.current();
  } catch {
    return work();
  }
  const timer = setInterval(() => context.heartbeat(), everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
