import { runsStarted } from '@keelson/activities/monitoring/prometheus';
import { ApprovalUpdate, type ApprovalAnswer, type ApprovalDecision } from '@keelson/common/approval';
import { readRunAttributes, runSearchAttributes } from '@keelson/common/search-attributes';
import { payloadCodec } from './payload-codec';
import { RUN_AUDIT_MEMO, runStartRow, type RunAuditMemo } from './run-audit';
import { DunningOperation, type RunStatus } from '@keelson/common/constants';
import { auditWriter, writeAudit, type AuditEntry, type Executor } from '@keelson/db';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import type { temporal as proto } from '@temporalio/proto';
import Long from 'long';
import { randomUUID } from 'node:crypto';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors';
import { hasPermission } from '../auth/middleware';
import { auditActor, type ServiceContext } from './context';
import { customerResource, customerScope } from './customer-scope';
import { foldFailure, foldSteps, type RunError, type RunStep } from './run-history';
import { decodeFailures, EVENT_NAMES, payloadDecoder, statusName, temporal, toDate } from './temporal-decoding';

export interface RunSummary {
  workflowId: string;
  runId: string;
  operation: string | null;
  workflowType: string;
  status: RunStatus;
  startedAt: string | null;
  closedAt: string | null;
  durationMs: number | null;
  resources: string[];
  actor: string | null;
}

export interface RunDetail extends RunSummary {
  taskQueue: string | null;
  historyLength: number;
  input?: unknown;
  result?: unknown;
  error: RunError | null;
  steps: RunStep[];
  /** What the run is blocked on right now: retry backoffs, timers and approvals (`until` = when they expire). */
  waitingFor: Array<{ kind: 'retry' | 'timer' | 'approval'; step: string; until: string | null }>;
  /** Permissions-aware: whether inputs/outputs were decoded for this caller. */
  payloadsVisible: boolean;
  temporalUiUrl: string;
  actions: { cancel: boolean; terminate: boolean; retry: boolean; rerun: boolean; decide: boolean };
}

export interface StartedRun {
  workflowId: string;
  runId: string;
  operation: string;
}

export interface ListRunsFilter {
  status?: Exclude<RunStatus, 'Unknown'>;
  operation?: string;
  resource?: string;
  from?: string;
  to?: string;
  pageSize: number;
  pageToken?: string;
}

const CLOSED_FAILED = new Set(['Failed', 'TimedOut', 'Canceled', 'Terminated']);

/** Single-quoted visibility literal; values are already validated, this guards the quotes. */
const q = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export function buildVisibilityQuery(tenantId: string, f: Omit<ListRunsFilter, 'pageSize' | 'pageToken'>, customerId: string | null = null): string {
  const clauses = [`KeelsonTenant = ${q(tenantId)}`];
  // A customer user sees only the runs about their customer (runs carry `customer:<id>`).
  if (customerId) clauses.push(`KeelsonResources = ${q(customerResource(customerId))}`);
  if (f.status) clauses.push(`ExecutionStatus = ${q(f.status)}`);
  if (f.operation) clauses.push(`KeelsonOperation = ${q(f.operation)}`);
  if (f.resource) clauses.push(`KeelsonResources = ${q(f.resource)}`);
  if (f.from) clauses.push(`StartTime >= ${q(new Date(f.from).toISOString())}`);
  if (f.to) clauses.push(`StartTime <= ${q(new Date(f.to).toISOString())}`);
  return clauses.join(' AND ');
}

/** Lists the caller's organization's runs; the tenant clause is always added here. */
export async function listRuns(ctx: ServiceContext, filter: ListRunsFilter): Promise<{ items: RunSummary[]; nextPageToken: string | null }> {
  const { temporal: client, config } = ctx.deps;
  let nextPageToken: Uint8Array | undefined;
  if (filter.pageToken) {
    nextPageToken = Buffer.from(filter.pageToken, 'base64url');
    if (nextPageToken.length === 0) throw new ValidationError('pageToken is not valid');
  }
  const res = await client.workflowService
    .listWorkflowExecutions({
      namespace: config.namespace,
      pageSize: filter.pageSize,
      nextPageToken,
      query: buildVisibilityQuery(ctx.principal.tenantId, filter, customerScope(ctx)),
    })
    .catch((err: Error & { code?: number }) => {
      // INVALID_ARGUMENT: a page token from another query or a stale one. A token that is not one
      // at all comes back as UNKNOWN from the server's decoder.
      if (err.code === 3 || (nextPageToken && err.code === 2)) throw new ValidationError('pageToken: not a page token of this list');
      throw err;
    });
  const items = (res.executions ?? []).map(summaryFromInfo);
  const token = res.nextPageToken?.length ? Buffer.from(res.nextPageToken).toString('base64url') : null;
  return { items, nextPageToken: token };
}

function summaryFromInfo(info: proto.api.workflow.v1.IWorkflowExecutionInfo): RunSummary {
  const attrs = readRunAttributes(decodeTypedSearchAttributes(info.searchAttributes?.indexedFields));
  const startedAt = toDate(info.startTime);
  const closedAt = toDate(info.closeTime);
  return {
    workflowId: info.execution?.workflowId ?? '',
    runId: info.execution?.runId ?? '',
    operation: attrs.operation ?? null,
    workflowType: info.type?.name ?? '',
    status: statusName(info.status),
    startedAt: startedAt?.toISOString() ?? null,
    closedAt: closedAt?.toISOString() ?? null,
    durationMs: startedAt && closedAt ? closedAt.getTime() - startedAt.getTime() : null,
    resources: attrs.resources ?? [],
    actor: attrs.actor ?? null,
  };
}

/**
 * Finds a run of the caller's tenant. A run of another tenant, or none, is the same 404, so a
 * caller cannot learn that another organization's run exists.
 */
export async function requireRun(ctx: ServiceContext, workflowId: string, runId?: string) {
  const handle = ctx.deps.temporal.workflow.getHandle(workflowId, runId);
  try {
    const description = await handle.describe();
    const attributes = readRunAttributes(description.typedSearchAttributes);
    if (attributes.tenantId !== ctx.principal.tenantId) throw new NotFoundError('run');
    const customerId = customerScope(ctx);
    if (customerId && !(attributes.resources ?? []).includes(customerResource(customerId))) throw new NotFoundError('run');
    return { handle, description };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError || (err as { code?: number }).code === 5) throw new NotFoundError('run');
    throw err;
  }
}

export async function fetchEvents(handle: WorkflowHandle) {
  return (await handle.fetchHistory()).events ?? [];
}

export async function getRun(ctx: ServiceContext, workflowId: string, runId?: string): Promise<RunDetail> {
  const { description } = await requireRun(ctx, workflowId, runId);
  const events = await fetchEvents(ctx.deps.temporal.workflow.getHandle(workflowId, description.runId));
  const payloadsVisible = hasPermission(ctx.principal, 'workflow.payloads');
  const codec = payloadCodec(ctx.deps);
  const decodeMemo = payloadDecoder(codec);
  const decode = payloadsVisible ? decodeMemo : undefined;
  const pending = description.raw.pendingActivities ?? [];
  // Error messages are for every reader of the run (they are written for operators and carry no
  // secrets); only Temporal's copy is sealed.
  await decodeFailures(codec, [events, pending]);
  const steps = await foldSteps(events, pending, decode, decodeMemo);

  const summary = summaryFromInfo(description.raw.workflowExecutionInfo ?? {});
  const started = events.find((e) => EVENT_NAMES[e.eventType ?? 0] === 'WorkflowExecutionStarted')?.workflowExecutionStartedEventAttributes;
  const last = events.at(-1);
  const completed = last?.workflowExecutionCompletedEventAttributes;
  const failure = last?.workflowExecutionFailedEventAttributes?.failure ?? null;
  const detail: RunDetail = {
    ...summary,
    taskQueue: description.taskQueue ?? null,
    historyLength: events.length,
    error: foldFailure(failure) ?? (summary.status === 'TimedOut' ? { message: 'run timed out', type: 'Timeout', nonRetryable: true, cause: null } : null),
    steps,
    waitingFor: steps
      .filter((s) => (s.kind === 'approval' && s.state === 'waiting') || (s.nextAt && (s.state === 'retrying' || s.state === 'scheduled' || s.state === 'waiting')))
      .map((s) => ({ kind: s.kind === 'approval' || s.kind === 'timer' ? s.kind : ('retry' as const), step: s.name, until: s.nextAt })),
    payloadsVisible,
    temporalUiUrl: `${ctx.deps.config.temporalUiUrl}/namespaces/${encodeURIComponent(ctx.deps.config.namespace)}/workflows/${encodeURIComponent(workflowId)}/${description.runId}/history`,
    actions: {
      cancel: summary.status === 'Running' && hasPermission(ctx.principal, 'workflow.cancel'),
      terminate: summary.status === 'Running' && hasPermission(ctx.principal, 'workflow.terminate'),
      retry: CLOSED_FAILED.has(summary.status) && hasPermission(ctx.principal, 'workflow.retry'),
      rerun: summary.status !== 'Running' && hasPermission(ctx.principal, 'workflow.start'),
      decide: summary.status === 'Running' && mayDecide(ctx.principal, readRunAttributes(description.typedSearchAttributes).operation),
    },
  };
  if (decode) {
    detail.input = started?.input?.payloads?.length ? (await decode(started.input.payloads))[0] : undefined;
    detail.result = completed?.result?.payloads?.length ? (await decode(completed.result.payloads))[0] : undefined;
  }
  return detail;
}

export interface StartRunSpec {
  operation: string;
  workflowType: string;
  workflowId: string;
  /** Workflow input without tenant and actor; those are added from the caller. */
  input: Record<string, unknown>;
  resources: string[];
}

/**
 * Starts a workflow for the caller's tenant with Keelson's search attributes, and audits it.
 *
 * The run carries its own start row in its memo (sealed like every payload) under a fresh key,
 * so the start itself is the row's write-ahead record (decision 0037). When the start is part of
 * a larger mutation the row is written in `tx` and commits with it; otherwise the caller is
 * answered once Temporal has the run, and the row is written right after by the process's
 * grouped writer, or — if the process dies first or the insert fails — by the run audit sweep
 * (`run-audit.ts`) from the run's memo. Either way the row is written once.
 */
export async function startWorkflowRun(ctx: ServiceContext, spec: StartRunSpec, tx: Executor = ctx.deps.db): Promise<StartedRun> {
  const { tenantId, actor } = ctx.principal;
  const carried: RunAuditMemo = {
    ...auditActor(ctx),
    action: 'run.start',
    resourceType: 'run',
    resourceId: spec.workflowId,
    details: { operation: spec.operation, resources: spec.resources },
    key: randomUUID(),
  };
  try {
    const handle = await ctx.deps.temporal.workflow.start(spec.workflowType, {
      taskQueue: ctx.deps.config.coreTaskQueue,
      workflowId: spec.workflowId,
      args: [{ ...spec.input, tenantId, actor }],
      typedSearchAttributes: runSearchAttributes({ tenantId, operation: spec.operation, resources: spec.resources, actor }),
      memo: { [RUN_AUDIT_MEMO]: carried },
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
    });
    const row = runStartRow(carried, handle.firstExecutionRunId);
    if (tx === ctx.deps.db) {
      // Off the answer's path: a row this insert does not write, the sweep writes from the run.
      auditWriter(ctx.deps.db, 'background')
        .write(row)
        .catch(() => undefined);
    } else {
      await writeAudit(tx, row);
    }
    runsStarted.inc({ operation: spec.operation });
    return { workflowId: spec.workflowId, runId: handle.firstExecutionRunId, operation: spec.operation };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new ConflictError(`a run with id ${spec.workflowId} already exists`);
    }
    throw err;
  }
}

/**
 * A run's audit row, committed before this resolves: in the caller's transaction when there is
 * one, else through the process's grouped writer (concurrent starts share an insert and a commit).
 */
function writeRunAudit(ctx: ServiceContext, tx: Executor, entry: AuditEntry): Promise<void> {
  return tx === ctx.deps.db ? auditWriter(ctx.deps.db).write(entry) : writeAudit(tx, entry);
}

async function audit(ctx: ServiceContext, action: string, workflowId: string, details: Record<string, unknown> = {}) {
  await writeRunAudit(ctx, ctx.deps.db, { ...auditActor(ctx), action, resourceType: 'run', resourceId: workflowId, details });
}

export async function cancelRun(ctx: ServiceContext, workflowId: string, runId?: string): Promise<void> {
  const { handle, description } = await requireRun(ctx, workflowId, runId);
  if (description.status.name !== 'RUNNING') throw new ConflictError(`run is ${description.status.name.toLowerCase()}, not running`);
  await handle.cancel();
  await audit(ctx, 'run.cancel', workflowId, { runId: description.runId });
}

export async function terminateRun(ctx: ServiceContext, workflowId: string, reason: string, runId?: string): Promise<void> {
  const { handle, description } = await requireRun(ctx, workflowId, runId);
  if (description.status.name !== 'RUNNING') throw new ConflictError(`run is ${description.status.name.toLowerCase()}, not running`);
  await handle.terminate(`${reason} (by ${ctx.principal.actor})`);
  await audit(ctx, 'run.terminate', workflowId, { runId: description.runId, reason });
}

/**
 * Retries a failed run from where it failed: resets it to the workflow task that scheduled the
 * step that failed, so completed steps keep their results and that step runs again.
 */
export async function retryRun(ctx: ServiceContext, workflowId: string, runId?: string): Promise<{ runId: string }> {
  const { description } = await requireRun(ctx, workflowId, runId);
  const status = statusName(description.raw.workflowExecutionInfo?.status);
  if (!CLOSED_FAILED.has(status)) throw new ConflictError(`only failed, timed out, canceled or terminated runs can be retried; this one is ${status.toLowerCase()}`);
  const events = await fetchEvents(ctx.deps.temporal.workflow.getHandle(workflowId, description.runId));
  const resetTo = findResetPoint(events);
  if (!resetTo) throw new ConflictError('run has no completed workflow task to retry from');
  const res = await ctx.deps.temporal.workflowService.resetWorkflowExecution({
    namespace: ctx.deps.config.namespace,
    workflowExecution: { workflowId, runId: description.runId },
    reason: `retry from failure by ${ctx.principal.actor}`,
    workflowTaskFinishEventId: Long.fromNumber(resetTo),
    requestId: randomUUID(),
    resetReapplyType: temporal.api.enums.v1.ResetReapplyType.RESET_REAPPLY_TYPE_SIGNAL,
  });
  await audit(ctx, 'run.retry', workflowId, { fromRunId: description.runId, runId: res.runId, resetEventId: String(resetTo) });
  return { runId: res.runId ?? '' };
}

/**
 * The WorkflowTaskCompleted event that scheduled the first step which failed for good; if no
 * step failed (a workflow-level error, a timeout), the last completed workflow task.
 */
export function findResetPoint(events: proto.api.history.v1.IHistoryEvent[]): number | null {
  const scheduledBy = new Map<string, number>();
  for (const e of events) {
    const a = e.activityTaskScheduledEventAttributes;
    if (a) scheduledBy.set(String(e.eventId), Number(a.workflowTaskCompletedEventId));
    const failed = e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
    if (failed) {
      const wft = scheduledBy.get(String(failed.scheduledEventId));
      if (wft) return wft;
    }
  }
  const lastCompleted = [...events].reverse().find((e) => EVENT_NAMES[e.eventType ?? 0] === 'WorkflowTaskCompleted');
  return lastCompleted ? Number(lastCompleted.eventId) : null;
}

/** Starts a new run of the same operation with the same input, as the current caller. */
export async function rerun(ctx: ServiceContext, workflowId: string, runId?: string): Promise<StartedRun> {
  const { description } = await requireRun(ctx, workflowId, runId);
  if (description.status.name === 'RUNNING') throw new ConflictError('run is still running');
  const events = await fetchEvents(ctx.deps.temporal.workflow.getHandle(workflowId, description.runId));
  const started = events[0]?.workflowExecutionStartedEventAttributes;
  const [input] = await payloadDecoder(payloadCodec(ctx.deps))(started?.input?.payloads ?? []);
  const attrs = readRunAttributes(description.typedSearchAttributes);
  const base = workflowId.replace(/\/rerun-[a-z0-9]+$/, '');
  const { tenantId: _t, actor: _a, ...rest } = (input ?? {}) as Record<string, unknown>;
  return startWorkflowRun(ctx, {
    operation: attrs.operation ?? description.type,
    workflowType: description.type,
    workflowId: `${base}/rerun-${randomUUID().slice(0, 8)}`,
    input: rest,
    resources: attrs.resources ?? [],
  });
}

export async function signalRun(ctx: ServiceContext, workflowId: string, name: string, args: unknown[], runId?: string): Promise<void> {
  const { handle, description } = await requireRun(ctx, workflowId, runId);
  if (description.status.name !== 'RUNNING') throw new ConflictError('run is not running');
  await handle.signal(name, ...args);
  await audit(ctx, 'run.signal', workflowId, { name });
}

/**
 * Who may answer a run's approval: whoever may signal runs, and billing managers for the one
 * approval that is theirs to give, the termination of an unpaid invoice's services, asked by
 * its dunning run (decision 0031). The run's tenant was checked before (requireRun).
 */
export function mayDecide(principal: ServiceContext['principal'], operation: string | undefined): boolean {
  if (hasPermission(principal, 'workflow.signal')) return true;
  return hasPermission(principal, 'billing.manage') && !principal.customerId && operation === DunningOperation.ladder;
}

/**
 * Answers the approval the run is waiting for (see @keelson/common/approval), as the caller: the
 * answer's `by` is always the caller's actor, whatever a client would like it to say.
 */
export async function decideApproval(
  ctx: ServiceContext,
  workflowId: string,
  decision: keyof typeof ApprovalUpdate,
  comment: string | undefined,
  runId?: string,
): Promise<ApprovalDecision> {
  const { description } = await requireRun(ctx, workflowId, runId);
  if (!mayDecide(ctx.principal, readRunAttributes(description.typedSearchAttributes).operation)) {
    throw new ForbiddenError('missing permission: workflow.signal (billing managers answer only the termination approvals of dunning runs)');
  }
  const answer: ApprovalAnswer = { by: ctx.principal.actor, ...(comment?.trim() ? { comment: comment.trim() } : {}) };
  const audited = { action: `run.${decision}`, details: { comment: answer.comment ?? null } };
  return (await updateRun(ctx, workflowId, ApprovalUpdate[decision], [answer], runId, audited)) as ApprovalDecision;
}

/** Sends a Workflow Update (approve, reject, …); a validator's rejection is a 409 naming why. */
export async function updateRun(
  ctx: ServiceContext,
  workflowId: string,
  name: string,
  args: unknown[],
  runId?: string,
  audited: { action: string; details: Record<string, unknown> } = { action: 'run.update', details: {} },
): Promise<unknown> {
  const { handle, description } = await requireRun(ctx, workflowId, runId);
  if (description.status.name !== 'RUNNING') throw new ConflictError('run is not running');
  try {
    const result = await handle.executeUpdate(name, { args: args as [unknown] });
    await audit(ctx, audited.action, workflowId, { name, ...audited.details });
    return result;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw new ConflictError(`update ${name} was rejected: ${err.cause?.message ?? err.message}`);
    const grpc = err as { code?: number; message?: string };
    if (grpc.code === 5 || grpc.code === 3) throw new ConflictError(`update ${name} was rejected: ${grpc.message}`);
    throw err;
  }
}
