import { ApplicationFailure, executeChild, proxyActivities, uuid4, workflowInfo } from '@temporalio/workflow';
import type { GuestStack, TerraformGuestActivities } from '@keelson/activities/terraform/guests';
import { resourceRef, TerraformOperation } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import type { RunContext } from '../run-context';
import { terraformRun } from './stack-run';

/** The guest stack's records: short Postgres calls, retried until the database answers. */
export const guestStacks = proxyActivities<TerraformGuestActivities>({ startToCloseTimeout: '30s', retry: { initialInterval: '500ms', maximumInterval: '30s' } });

/**
 * Applies or destroys a guest's stack as a child run of the calling operation, approved by it (the
 * person who asked for the VM, or for its end, already decided). The child is an ordinary stack
 * run: its plan, log and outputs are on the stack's pages. Anything but a finished apply fails.
 */
export async function runGuestStack(ctx: RunContext & { guestId?: string }, stack: GuestStack, kind: 'apply' | 'destroy'): Promise<void> {
  const runId = uuid4();
  const { workflowId } = await guestStacks.terraformRecordRun({ tenantId: ctx.tenantId, stackId: stack.stackId, runId, kind, createdBy: ctx.actor });
  const resources = [resourceRef('terraform-stack', stack.stackId), ...(ctx.guestId ? [resourceRef('guest', ctx.guestId)] : [])];
  const result = await executeChild(terraformRun, {
    workflowId,
    args: [{ tenantId: ctx.tenantId, actor: ctx.actor, runId, stackId: stack.stackId, stackName: stack.stackName, kind, autoApprove: { by: `run:${workflowInfo().workflowId}` } }],
    typedSearchAttributes: runSearchAttributes({ tenantId: ctx.tenantId, operation: kind === 'destroy' ? TerraformOperation.destroy : TerraformOperation.apply, resources, actor: ctx.actor }),
  });
  if (result.state !== 'applied' && result.state !== 'no-changes') {
    throw ApplicationFailure.nonRetryable(`Terraform ${kind} of stack "${stack.stackName}" ended ${result.state}`, 'TerraformRunFailed');
  }
}
