import { ApplicationFailure, condition, defineSignal, defineUpdate, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import type { RunLogActivities } from '@keelson/activities/db/run-log';
import type { RunContext } from './run-context';

/**
 * A diagnostic operation: optionally echoes lines to its output, waits on a timer, waits for an
 * approval, or fails. Health checks, tests and the start benchmark use it; operators can use it
 * to check that workers, output streaming and approvals work end to end.
 */
export interface NoopInput extends RunContext {
  /** Lines to write to the run's output through an activity. */
  echo?: string[];
  /** Seconds to wait on a durable timer before finishing. */
  sleepSeconds?: number;
  /** Wait (up to an hour) for the `approve` update before finishing. */
  waitForApproval?: boolean;
  /** Fail with this message instead of completing. */
  failWith?: string;
}

export interface NoopResult {
  ok: true;
  echoed: number;
  approvedBy: string | null;
  notes: string[];
}

export const approveUpdate = defineUpdate<{ approvedBy: string }, [{ by: string; comment?: string }]>('approve');
export const noteSignal = defineSignal<[string]>('note');

const APPROVAL_TIMEOUT = '1h';
const runLog = proxyActivities<RunLogActivities>({ startToCloseTimeout: '30s' });

export async function noop(input: NoopInput): Promise<NoopResult> {
  let awaitingApproval = false;
  let approvedBy: string | null = null;
  const notes: string[] = [];

  setHandler(noteSignal, (text) => void notes.push(text));
  setHandler(
    approveUpdate,
    ({ by }) => {
      approvedBy = by;
      return { approvedBy: by };
    },
    {
      validator: (arg) => {
        if (!awaitingApproval) throw new Error('this run is not waiting for an approval');
        if (!arg?.by) throw new Error('approve needs { by }');
      },
    },
  );

  if (input.echo?.length || input.failWith) {
    await runLog.echo({ tenantId: input.tenantId, lines: input.echo ?? [], failWith: input.failWith });
  }
  if (input.sleepSeconds) await sleep(input.sleepSeconds * 1000);
  if (input.waitForApproval) {
    awaitingApproval = true;
    if (!(await condition(() => approvedBy !== null, APPROVAL_TIMEOUT))) {
      throw ApplicationFailure.nonRetryable(`no approval within ${APPROVAL_TIMEOUT}`, 'ApprovalTimedOut');
    }
    awaitingApproval = false;
  }
  return { ok: true, echoed: input.echo?.length ?? 0, approvedBy, notes };
}
