import { proxyActivities } from '@temporalio/workflow';
import type { TerraformActivities } from '@keelson/activities/terraform/index';
import type { RunContext } from '../run-context';

export interface TerraformDriftInput extends RunContext {
  stackId: string;
}

const check = proxyActivities<TerraformActivities>({
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '5 seconds', maximumInterval: '1 minute', maximumAttempts: 3 },
});

/** A stack's scheduled drift check (one Temporal Schedule per stack starts it). */
export async function terraformDriftCheck(input: TerraformDriftInput): Promise<{ drifted: boolean; findingId: string | null }> {
  return check.terraformCheckDrift({ tenantId: input.tenantId, stackId: input.stackId });
}
