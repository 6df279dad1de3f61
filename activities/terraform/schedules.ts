import { terraformDriftScheduleId, TerraformOperation, WorkflowId, WorkflowType, resourceRef } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';

export interface DriftScheduleOptions {
  tenantId: string;
  stackId: string;
  actor: string;
  taskQueue: string;
  /** Time between checks (milliseconds). */
  everyMs: number;
}

/** Creates the stack's drift-check Schedule, or updates it to this interval. */
export async function upsertDriftSchedule(client: Client, options: DriftScheduleOptions): Promise<void> {
  const scheduleId = terraformDriftScheduleId(options.stackId);
  const action = {
    type: 'startWorkflow' as const,
    workflowType: WorkflowType.terraformDriftCheck,
    args: [{ tenantId: options.tenantId, actor: options.actor, stackId: options.stackId }],
    taskQueue: options.taskQueue,
    workflowId: WorkflowId.terraformDrift(options.stackId),
    typedSearchAttributes: runSearchAttributes({ tenantId: options.tenantId, operation: TerraformOperation.drift, resources: [resourceRef('terraform-stack', options.stackId)], actor: options.actor }),
  };
  const spec = { intervals: [{ every: options.everyMs }] };
  try {
    await client.schedule.create({ scheduleId, spec, action, policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' }, state: { note: `drift checks of Terraform stack ${options.stackId}` } });
    return;
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, spec, action }));
}

/** Removes the stack's drift Schedule; a missing one is fine. */
export async function deleteDriftSchedule(client: Client, stackId: string): Promise<void> {
  try {
    await client.schedule.getHandle(terraformDriftScheduleId(stackId)).delete();
  } catch (err) {
    if ((err as Error).name !== 'ScheduleNotFoundError') throw err;
  }
}
