import type { Duration } from '@temporalio/common';
import { condition, defineUpdate, isCancellation, setHandler, upsertMemo, uuid4 } from '@temporalio/workflow';
import { msToNumber } from '@temporalio/common/lib/time';
import { APPROVAL_MEMO, ApprovalUpdate, type ApprovalAnswer, type ApprovalDecision, type ApprovalRequest } from '@keelson/common/approval';

export const approveUpdate = defineUpdate<ApprovalDecision, [ApprovalAnswer]>(ApprovalUpdate.approve);
export const rejectUpdate = defineUpdate<ApprovalDecision, [ApprovalAnswer]>(ApprovalUpdate.reject);

export interface ApprovalOptions {
  prompt: string;
  /** How long to wait before the request expires; omitted, it waits until cancelled. */
  timeout?: Duration;
}

/**
 * Asks a person to approve or reject, and waits for the answer (see @keelson/common/approval).
 * Resolves with the decision — `expired` when nobody answered in time. If the run is cancelled
 * while waiting, the request is closed as `canceled` and the cancellation propagates.
 */
export async function awaitApproval({ prompt, timeout }: ApprovalOptions): Promise<ApprovalDecision> {
  const requestedAt = new Date();
  const request: ApprovalRequest = { id: uuid4(), prompt, requestedAt: requestedAt.toISOString(), expiresAt: null, decision: null };
  if (timeout !== undefined) request.expiresAt = new Date(requestedAt.getTime() + msToNumber(timeout)).toISOString();

  let decision: ApprovalDecision | null = null;
  const decide = (outcome: ApprovalDecision['outcome'], answer?: ApprovalAnswer): ApprovalDecision =>
    (decision = { outcome, by: answer?.by ?? null, comment: answer?.comment?.trim() || null, at: new Date().toISOString() });
  // Validators run before an update is accepted: a refused answer leaves no trace in history.
  const validator = (answer: ApprovalAnswer) => {
    if (decision || request.decision) throw new Error('this run is not waiting for an approval');
    if (!answer?.by) throw new Error('an answer needs { by }');
  };
  setHandler(approveUpdate, (answer) => decide('approved', answer), { validator });
  setHandler(rejectUpdate, (answer) => decide('rejected', answer), { validator });

  upsertMemo({ [APPROVAL_MEMO]: request });
  try {
    const answered = timeout === undefined ? (await condition(() => decision !== null), true) : await condition(() => decision !== null, timeout);
    if (!answered) decide('expired');
  } catch (err) {
    if (isCancellation(err)) decide('canceled');
    throw err;
  } finally {
    request.decision = decision;
    upsertMemo({ [APPROVAL_MEMO]: request });
  }
  return decision!;
}
