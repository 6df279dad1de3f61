import { APPROVAL_MEMO, type ApprovalRequest } from '@keelson/common/approval';
import type { temporal } from '@temporalio/proto';
import { EVENT_NAMES, toDate, type DecodePayloads } from './temporal-decoding';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
type PendingActivity = temporal.api.workflow.v1.IPendingActivityInfo;
type ProtoFailure = temporal.api.failure.v1.IFailure;

export const STEP_STATES = ['scheduled', 'running', 'retrying', 'completed', 'failed', 'timed_out', 'canceled', 'waiting'] as const;
export type StepState = (typeof STEP_STATES)[number];

export interface RunError {
  message: string;
  type: string | null;
  nonRetryable: boolean;
  cause: RunError | null;
}

/** One step of a run as an operator reads it: an activity, a timer, a signal, an update, a question to a person. */
export interface RunStep {
  id: string;
  kind: 'activity' | 'timer' | 'signal' | 'update' | 'child' | 'approval';
  name: string;
  state: StepState;
  attempts: number;
  scheduledAt: string | null;
  startedAt: string | null;
  endedAt: string | null;
  taskQueue: string | null;
  /** Decoded only for callers allowed to see payloads; otherwise undefined. */
  input?: unknown;
  output?: unknown;
  error: RunError | null;
  /** When a retrying activity will next be attempted, when a timer fires, when an approval expires. */
  nextAt: string | null;
  /** For an approval: what was asked and, once answered, the decision (visible to every reader). */
  approval?: Pick<ApprovalRequest, 'prompt' | 'expiresAt' | 'decision'>;
}

const iso = (t: unknown) => toDate(t)?.toISOString() ?? null;

/** A step with nothing known yet but what `init` says. */
function newStep(init: Pick<RunStep, 'id' | 'kind' | 'name'> & Partial<RunStep>): RunStep {
  return { state: 'scheduled', attempts: 0, scheduledAt: null, startedAt: null, endedAt: null, taskQueue: null, error: null, nextAt: null, ...init };
}

/** Maps a protobuf failure and its cause chain to a plain error. */
export function foldFailure(f: ProtoFailure | null | undefined): RunError | null {
  if (!f) return null;
  const app = f.applicationFailureInfo;
  const type =
    app?.type ??
    (f.activityFailureInfo ? 'ActivityFailure' : null) ??
    (f.timeoutFailureInfo ? 'Timeout' : null) ??
    (f.canceledFailureInfo ? 'Canceled' : null) ??
    (f.terminatedFailureInfo ? 'Terminated' : null) ??
    (f.childWorkflowExecutionFailureInfo ? 'ChildWorkflowFailure' : null);
  return { message: f.message ?? '', type, nonRetryable: Boolean(app?.nonRetryable), cause: foldFailure(f.cause) };
}

const APPROVAL_STATE: Record<string, StepState> = { approved: 'completed', rejected: 'failed', expired: 'timed_out', canceled: 'canceled' };

/**
 * Folds a history (and the pending-activity view from describe) into steps. Pure apart from
 * payload decoding: inputs and outputs are decoded only when `decode` is given (callers allowed
 * to see payloads); `decodeMemo` reads Keelson's own run metadata (approval requests), which
 * every reader of the run may see.
 */
export async function foldSteps(
  events: HistoryEvent[],
  pending: PendingActivity[] = [],
  decode?: DecodePayloads,
  decodeMemo?: DecodePayloads,
): Promise<RunStep[]> {
  const steps: RunStep[] = [];
  const byScheduledId = new Map<string, RunStep>();
  const timers = new Map<string, RunStep>();
  const updates = new Map<string, RunStep>();
  const approvals = new Map<string, RunStep>();
  // An approval's expiry is a timer the workflow starts in the same task as it asks; the
  // approval step already says when it expires, so that timer is not shown on its own.
  const askedInTask = new Map<string, RunStep>();
  const expiryTimers = new Set<string>();
  const payload = async (p: temporal.api.common.v1.IPayloads | null | undefined) =>
    decode && p?.payloads?.length ? (await decode(p.payloads)).at(0) : undefined;

  for (const e of events) {
    const at = iso(e.eventTime);
    const key = String(e.eventId);
    switch (EVENT_NAMES[e.eventType ?? 0]) {
      case 'ActivityTaskScheduled': {
        const a = e.activityTaskScheduledEventAttributes!;
        const step = newStep({
          id: a.activityId ?? key,
          kind: 'activity',
          name: a.activityType?.name ?? 'activity',
          scheduledAt: at,
          taskQueue: a.taskQueue?.name ?? null,
          input: await payload(a.input),
        });
        byScheduledId.set(key, step);
        steps.push(step);
        break;
      }
      case 'ActivityTaskStarted': {
        const a = e.activityTaskStartedEventAttributes!;
        const step = byScheduledId.get(String(a.scheduledEventId));
        if (step) Object.assign(step, { state: 'running', attempts: a.attempt ?? 1, startedAt: at, error: foldFailure(a.lastFailure) });
        break;
      }
      case 'ActivityTaskCompleted': {
        const a = e.activityTaskCompletedEventAttributes!;
        const step = byScheduledId.get(String(a.scheduledEventId));
        if (step) Object.assign(step, { state: 'completed', endedAt: at, output: await payload(a.result), error: null });
        break;
      }
      case 'ActivityTaskFailed': {
        const a = e.activityTaskFailedEventAttributes!;
        const step = byScheduledId.get(String(a.scheduledEventId));
        if (step) Object.assign(step, { state: 'failed', endedAt: at, error: foldFailure(a.failure) });
        break;
      }
      case 'ActivityTaskTimedOut': {
        const a = e.activityTaskTimedOutEventAttributes!;
        const step = byScheduledId.get(String(a.scheduledEventId));
        if (step) Object.assign(step, { state: 'timed_out', endedAt: at, error: foldFailure(a.failure) });
        break;
      }
      case 'ActivityTaskCanceled': {
        const a = e.activityTaskCanceledEventAttributes!;
        const step = byScheduledId.get(String(a.scheduledEventId));
        if (step) Object.assign(step, { state: 'canceled', endedAt: at });
        break;
      }
      case 'TimerStarted': {
        const a = e.timerStartedEventAttributes!;
        const seconds = Number(a.startToFireTimeout?.seconds ?? 0);
        const asked = askedInTask.get(String(a.workflowTaskCompletedEventId));
        if (asked?.nextAt && at && Math.abs(Date.parse(at) + seconds * 1000 - Date.parse(asked.nextAt)) < 5000) {
          expiryTimers.add(a.timerId ?? key);
          break;
        }
        const step = newStep({
          id: a.timerId ?? key,
          kind: 'timer',
          name: `timer ${seconds}s`,
          state: 'waiting',
          attempts: 1,
          scheduledAt: at,
          startedAt: at,
          nextAt: at ? new Date(Date.parse(at) + seconds * 1000).toISOString() : null,
        });
        timers.set(step.id, step);
        steps.push(step);
        break;
      }
      case 'TimerFired':
      case 'TimerCanceled': {
        const a = e.timerFiredEventAttributes ?? e.timerCanceledEventAttributes;
        if (expiryTimers.has(a?.timerId ?? '')) break;
        const step = timers.get(a?.timerId ?? '');
        if (step) Object.assign(step, { state: e.timerFiredEventAttributes ? 'completed' : 'canceled', endedAt: at, nextAt: null });
        break;
      }
      case 'WorkflowExecutionSignaled': {
        const a = e.workflowExecutionSignaledEventAttributes!;
        steps.push(
          newStep({
            id: `signal-${key}`,
            kind: 'signal',
            name: a.signalName ?? 'signal',
            state: 'completed',
            attempts: 1,
            scheduledAt: at,
            startedAt: at,
            endedAt: at,
            input: await payload(a.input),
          }),
        );
        break;
      }
      case 'WorkflowExecutionUpdateAccepted': {
        const a = e.workflowExecutionUpdateAcceptedEventAttributes!;
        const id = a.protocolInstanceId ?? key;
        const step = newStep({
          id,
          kind: 'update',
          name: a.acceptedRequest?.input?.name ?? 'update',
          state: 'running',
          attempts: 1,
          scheduledAt: at,
          startedAt: at,
          input: await payload(a.acceptedRequest?.input?.args),
        });
        updates.set(id, step);
        steps.push(step);
        break;
      }
      case 'WorkflowExecutionUpdateCompleted': {
        const a = e.workflowExecutionUpdateCompletedEventAttributes!;
        const step = updates.get(a.meta?.updateId ?? '');
        if (step) {
          const failure = foldFailure(a.outcome?.failure);
          Object.assign(step, { state: failure ? 'failed' : 'completed', endedAt: at, error: failure, output: await payload(a.outcome?.success) });
        }
        break;
      }
      case 'WorkflowPropertiesModified': {
        const field = e.workflowPropertiesModifiedEventAttributes?.upsertedMemo?.fields?.[APPROVAL_MEMO];
        if (!field || !decodeMemo) break;
        const request = (await decodeMemo([field]))[0] as ApprovalRequest | null;
        if (!request?.id) break;
        const step =
          approvals.get(request.id) ??
          newStep({ id: `approval-${request.id}`, kind: 'approval', name: request.prompt, attempts: 1, scheduledAt: request.requestedAt, startedAt: request.requestedAt });
        if (!approvals.has(request.id)) {
          approvals.set(request.id, step);
          askedInTask.set(String(e.workflowPropertiesModifiedEventAttributes?.workflowTaskCompletedEventId), step);
          steps.push(step);
        }
        const decided = request.decision;
        Object.assign(step, {
          state: decided ? APPROVAL_STATE[decided.outcome] ?? 'completed' : 'waiting',
          endedAt: decided?.at ?? null,
          nextAt: decided ? null : request.expiresAt,
          approval: { prompt: request.prompt, expiresAt: request.expiresAt, decision: decided },
        });
        break;
      }
      case 'StartChildWorkflowExecutionInitiated': {
        const a = e.startChildWorkflowExecutionInitiatedEventAttributes!;
        const step = newStep({
          id: a.workflowId ?? key,
          kind: 'child',
          name: a.workflowType?.name ?? 'child workflow',
          attempts: 1,
          scheduledAt: at,
          taskQueue: a.taskQueue?.name ?? null,
          input: await payload(a.input),
        });
        byScheduledId.set(key, step);
        steps.push(step);
        break;
      }
      case 'ChildWorkflowExecutionStarted':
      case 'ChildWorkflowExecutionCompleted':
      case 'ChildWorkflowExecutionFailed':
      case 'ChildWorkflowExecutionCanceled':
      case 'ChildWorkflowExecutionTimedOut':
      case 'ChildWorkflowExecutionTerminated': {
        const a =
          e.childWorkflowExecutionStartedEventAttributes ??
          e.childWorkflowExecutionCompletedEventAttributes ??
          e.childWorkflowExecutionFailedEventAttributes ??
          e.childWorkflowExecutionCanceledEventAttributes ??
          e.childWorkflowExecutionTimedOutEventAttributes ??
          e.childWorkflowExecutionTerminatedEventAttributes;
        const step = byScheduledId.get(String(a?.initiatedEventId));
        if (!step) break;
        if (e.childWorkflowExecutionStartedEventAttributes) Object.assign(step, { state: 'running', startedAt: at });
        else if (e.childWorkflowExecutionCompletedEventAttributes)
          Object.assign(step, { state: 'completed', endedAt: at, output: await payload(e.childWorkflowExecutionCompletedEventAttributes.result) });
        else
          Object.assign(step, {
            state: e.childWorkflowExecutionFailedEventAttributes ? 'failed' : e.childWorkflowExecutionTimedOutEventAttributes ? 'timed_out' : 'canceled',
            endedAt: at,
            error: foldFailure(e.childWorkflowExecutionFailedEventAttributes?.failure),
          });
        break;
      }
    }
  }

  // History records an activity's attempts only when it finishes; describe knows the live ones.
  for (const p of pending) {
    const step = [...byScheduledId.values()].reverse().find((s) => s.kind === 'activity' && s.id === p.activityId && !s.endedAt);
    if (!step) continue;
    const attempt = p.attempt ?? 1;
    const lastFailure = foldFailure(p.lastFailure);
    const started = p.state === 2; // PENDING_ACTIVITY_STATE_STARTED
    step.attempts = attempt;
    step.error = lastFailure;
    step.startedAt = iso(p.lastStartedTime) ?? step.startedAt;
    step.state = started ? 'running' : attempt > 1 ? 'retrying' : 'scheduled';
    step.nextAt = started ? null : iso(p.nextAttemptScheduleTime);
  }
  return steps;
}
