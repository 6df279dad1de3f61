import { ApplicationFailure, CancellationScope, isCancellation, proxyActivities } from '@temporalio/workflow';
import type { PlanResult, TerraformActivities } from '@keelson/activities/terraform/index';
import type { TerraformRunState } from '@keelson/db/schema';
import { awaitApproval } from '../approval';
import { describeFailure } from '../failures';
import type { RunContext } from '../run-context';

export interface TerraformRunInput extends RunContext {
  /** Keelson's record of the run (table terraform_runs); the API creates it before starting. */
  runId: string;
  stackId: string;
  stackName: string;
  kind: 'apply' | 'destroy';
  /**
   * Apply without asking: the run belongs to an operation a person already decided on (a VM
   * provisioned or destroyed through Terraform). Recorded as approved by `by`.
   */
  autoApprove?: { by: string };
}

export interface TerraformRunResult {
  state: TerraformRunState;
  /** How many plans the run made (more than one after a stale plan or a recovered crash). */
  plans: number;
}

/** A run plans again after a stale plan or a crash; this many plans and it gives up. */
const MAX_PLANS = 5;
/** Nobody answered the approval in this long: the run ends without applying. */
const APPROVAL_TIMEOUT = '7 days';

// Plans and applies run tofu: long, with output streamed and a heartbeat while they run. Only
// infrastructure trouble is retried (tofu's own failures are non-retryable).
const tofuSteps = proxyActivities<TerraformActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
});
const record = proxyActivities<TerraformActivities>({ startToCloseTimeout: '30 seconds', retry: { maximumAttempts: 10 } });

const summaryText = (s: { create: number; update: number; replace: number; delete: number }) =>
  `${s.create} to add, ${s.update} to change, ${s.replace} to replace, ${s.delete} to destroy`;

/**
 * One run of a stack, as the runbook reads: plan (output live in the run's log, the diff on the
 * run's page) → nothing to do: done → a person approves (or rejects) that plan → apply exactly
 * that plan → outputs. A stale plan, or an apply cut short by a crash, is planned again and the
 * remaining changes are asked for again; a run that already applied and then finds nothing left
 * ends `applied`.
 */
export async function terraformRun(input: TerraformRunInput): Promise<TerraformRunResult> {
  const { tenantId, runId } = input;
  const setState = (state: TerraformRunState, extra: { approvedBy?: string; approvedAt?: string; error?: string } = {}) =>
    CancellationScope.nonCancellable(() => record.terraformSetRunState({ tenantId, runId, state, ...extra }));
  let applied = false;
  let plans = 0;
  try {
    while (plans < MAX_PLANS) {
      const plan = await tofuSteps.terraformPlan({ tenantId, runId });
      plans += 1;
      if (!plan.hasChanges) {
        const state = applied ? 'applied' : 'no-changes';
        await setState(state);
        return { state, plans };
      }
      const decision = input.autoApprove ? { outcome: 'approved' as const, by: input.autoApprove.by, at: new Date().toISOString() } : await askApproval(input, plan.summary, () => setState('awaiting-approval'));
      if (decision.outcome !== 'approved') {
        const state = decision.outcome === 'rejected' ? 'rejected' : 'canceled';
        await setState(state, decision.outcome === 'rejected' ? {} : { error: `approval ${decision.outcome}` });
        return { state, plans };
      }
      await setState('applying', { approvedBy: decision.by ?? undefined, approvedAt: decision.at });
      const { outcome } = await tofuSteps.terraformApply({ tenantId, runId });
      if (outcome === 'applied') {
        await setState('applied');
        return { state: 'applied', plans };
      }
      // `recovered`: an approved apply ran (at least in part) before the crash.
      if (outcome === 'recovered') applied = true;
    }
    throw ApplicationFailure.nonRetryable(`the stack still had changes after ${MAX_PLANS} plans`, 'TerraformTooManyPlans');
  } catch (err) {
    if (isCancellation(err)) await setState('canceled');
    else await setState('failed', { error: describeFailure(err) });
    throw err;
  }
}

/** Asks a person to approve the plan; `shown` marks the run as waiting once the handlers are in place. */
async function askApproval(input: TerraformRunInput, summary: PlanResult['summary'], shown: () => Promise<void>) {
  const verb = input.kind === 'destroy' ? 'Destroy' : 'Apply';
  // The approval handlers are registered when awaitApproval is called, before the run is shown
  // as waiting: an Approve clicked as soon as the page says so is always taken.
  const pending = awaitApproval({ prompt: `${verb} the plan for stack "${input.stackName}": ${summaryText(summary)}`, timeout: APPROVAL_TIMEOUT });
  await shown();
  return pending;
}
