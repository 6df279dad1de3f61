import { proxyActivities } from '@temporalio/workflow';
import type { EvaluateActivities, EvaluateResult } from '../../activities/monitoring/evaluate';
import type { RetentionActivities } from '../../activities/monitoring/retention';

/**
 * One evaluation round of every enabled rule, started by the evaluation Schedule (overlapping
 * rounds are skipped); a few rules at a time, each one activity over all the resources it covers.
 */

/** Rounds are skipped while one is open: a rule's evaluation heartbeats, so a dead worker holds them for seconds, not minutes. */
const evaluate = proxyActivities<EvaluateActivities>({ startToCloseTimeout: '2m', heartbeatTimeout: '5s', retry: { maximumAttempts: 3, initialInterval: '1s' } });
const list = proxyActivities<EvaluateActivities>({ startToCloseTimeout: '15s', retry: { maximumAttempts: 3, initialInterval: '1s' } });
const RULES_IN_PARALLEL = 4;

export async function monitoringEvaluate(): Promise<{ rules: EvaluateResult[] }> {
  const ids = await list.listEnabledRules();
  const rules: EvaluateResult[] = [];
  for (let i = 0; i < ids.length; i += RULES_IN_PARALLEL) {
    rules.push(...(await Promise.all(ids.slice(i, i + RULES_IN_PARALLEL).map((ruleId) => evaluate.evaluateRule({ ruleId })))));
  }
  return { rules };
}

const retention = proxyActivities<RetentionActivities>({ startToCloseTimeout: '10m', retry: { maximumAttempts: 3 } });

/** Rollups and retention, on their own (hourly) Schedule. */
export async function monitoringMaintenance(): Promise<Awaited<ReturnType<RetentionActivities['rollupAndPrune']>>> {
  return retention.rollupAndPrune({});
}
