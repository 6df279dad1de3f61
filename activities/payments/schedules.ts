import { paymentsReconcileScheduleId, WorkflowId, WorkflowType } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';

/** How often reconciliation reads open payment attempts back from Stripe, unless configured. */
export const DEFAULT_RECONCILE_EVERY_MS = 60 * 60_000;

export interface ReconcileScheduleOptions {
  tenantId: string;
  actor: string;
  taskQueue: string;
  /** Time between reconciliations (default an hour; tests use seconds). */
  everyMs?: number;
  /** Attempts younger than this are left to their webhook. */
  minAgeMs?: number;
}

/** Creates the organization's reconciliation Schedule, or updates it to these settings. */
export async function upsertReconcileSchedule(client: Client, options: ReconcileScheduleOptions): Promise<void> {
  const scheduleId = paymentsReconcileScheduleId(options.tenantId);
  const everyMs = options.everyMs ?? DEFAULT_RECONCILE_EVERY_MS;
  const action = {
    type: 'startWorkflow' as const,
    workflowType: WorkflowType.paymentsReconcile,
    args: [{ tenantId: options.tenantId, actor: options.actor, minAgeMs: options.minAgeMs ?? Math.min(5 * 60_000, everyMs) }],
    taskQueue: options.taskQueue,
    workflowId: WorkflowId.paymentsReconcile(options.tenantId),
    typedSearchAttributes: runSearchAttributes({ tenantId: options.tenantId, operation: 'billing.reconcile', resources: [], actor: options.actor }),
  };
  const spec = { intervals: [{ every: everyMs }] };
  try {
    await client.schedule.create({ scheduleId, spec, action, policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' }, state: { note: `payments reconciliation of organization ${options.tenantId}` } });
    return;
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, spec, action }));
}
