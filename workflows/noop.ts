import { ApplicationFailure, defineSignal, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import type { RunLogActivities } from '@keelson/activities/db/run-log';
import { awaitApproval } from './approval';
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
  /** Ask for an approval (`approve` / `reject` updates, expiring after an hour) before finishing. */
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

export const noteSignal = defineSignal<[string]>('note');

const APPROVAL_TIMEOUT = '1h';
const runLog = proxyActivities<RunLogActivities>({ startToCloseTimeout: '30s' });

export async function noop(input: NoopInput): Promise<NoopResult> {
  let approvedBy: string | null = null;
  const notes: string[] = [];

  setHandler(noteSignal, (text) => void notes.push(text));

  if (input.echo?.length || input.failWith) {
    await runLog.echo({ tenantId: input.tenantId, lines: input.echo ?? [], failWith: input.failWith });
  }
  if (input.sleepSeconds) await sleep(input.sleepSeconds * 1000);
  if (input.waitForApproval) {
    const decision = await awaitApproval({ prompt: 'Let this diagnostic run finish?', timeout: APPROVAL_TIMEOUT });
    if (decision.outcome === 'expired') throw ApplicationFailure.nonRetryable(`no answer within ${APPROVAL_TIMEOUT}`, 'ApprovalExpired');
    if (decision.outcome === 'rejected') {
      throw ApplicationFailure.nonRetryable(`rejected by ${decision.by}${decision.comment ? `: ${decision.comment}` : ''}`, 'ApprovalRejected');
    }
    approvedBy = decision.by;
  }
  return { ok: true, echoed: input.echo?.length ?? 0, approvedBy, notes };
}
