import { TaskQueue } from '@keelson/common/constants';
import { proxyActivities } from '@temporalio/workflow';
import type { RunLogActivities } from '@keelson/activities/db/run-log';
import type { RunContext } from './run-context';

export interface NoopInput extends RunContext {
  /** Lines to write to the run's output through an activity (for stream checks and benchmarks). */
  echo?: string[];
  /** Fail with this message instead of completing (for failure paths). */
  failWith?: string;
}

const runLog = proxyActivities<RunLogActivities>({ taskQueue: TaskQueue.core, startToCloseTimeout: '30s' });

/** Does nothing but optionally echo lines; used for health checks, tests and the start benchmark. */
export async function noop(input: NoopInput): Promise<{ ok: true; echoed: number }> {
  if (input.echo?.length || input.failWith) {
    await runLog.echo({ tenantId: input.tenantId, lines: input.echo ?? [], failWith: input.failWith });
  }
  return { ok: true, echoed: input.echo?.length ?? 0 };
}
