import { condition, continueAsNew, defineSignal, executeChild, proxyActivities, setHandler } from '@temporalio/workflow';
import type { DeployActivities } from '@keelson/activities/deploy/index';
import type { SuspensionActivities, SuspensionState, SuspensionTarget } from '@keelson/activities/suspension/index';
import { resourceRef, SuspensionSignal, TaskQueue, WorkflowId, type SuspensionReason } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { containerPower } from './container-power';
import type { RunContext } from './run-context';
import { vmPower } from './vm-lifecycle';

/**
 * A service's suspension run, `suspension/<resource>` (decision 0027): the one place that stops
 * and starts a customer's service for suspensions, so holds for different reasons (overdue,
 * staff, KYC) never race each other. Whoever holds or lifts a reason writes it to
 * `service_suspensions` and sends `reconcileSuspension`; this run then brings the service to what
 * the holds say, one change at a time:
 *
 *   a hold in force and the service running  → stop it (VM/LXC: `vmPower` stop; container:
 *                                               `containerPower` stop; app: the suspended page)
 *                                               → record the holds suspended
 *   no hold in force and the service stopped → start it (or point the app at its release again)
 *                                               → record the lifted holds restored
 *
 * Each change is a child run with a business id (`suspension/<resource>/suspend/<hold>`), so a
 * worker killed mid-change resumes it rather than repeating it, and each is recorded only after
 * it happened. The run ends after a quiet while; the next nudge starts it again.
 */

export const reconcileSignal = defineSignal(SuspensionSignal.reconcile);

export interface ServiceSuspensionInput extends RunContext {
  resource: string;
}

const records = proxyActivities<SuspensionActivities>({ startToCloseTimeout: '30s', retry: { initialInterval: '500ms', maximumInterval: '30s' } });
/** An app's route on its node's proxy: one admin request. */
const proxyCall = { startToCloseTimeout: '1m', retry: { initialInterval: '1s', maximumInterval: '30s' } } as const;

/** How long the run waits for another nudge before it ends. */
const QUIET = '2m';
/** Changes per run before it continues as new, so its history stays short. */
const CHANGES_PER_RUN = 50;

export async function serviceSuspension(input: ServiceSuspensionInput): Promise<{ changes: number }> {
  let nudged = true;
  setHandler(reconcileSignal, () => void (nudged = true));
  let changes = 0;
  while (changes < CHANGES_PER_RUN) {
    if (!nudged && !(await condition(() => nudged, QUIET))) return { changes };
    nudged = false;
    changes += await reconcile(input);
  }
  await continueAsNew<typeof serviceSuspension>(input);
  return { changes };
}

/** Brings the service to what its holds say; returns how many power changes it made. */
async function reconcile(input: ServiceSuspensionInput): Promise<number> {
  const ids = { tenantId: input.tenantId };
  let changes = 0;
  for (let pass = 0; pass < 10; pass++) {
    const state = await records.suspensionState({ ...ids, resource: input.resource });
    // Nothing left to stop or start (destroyed, removed): the holds stand as recorded.
    if (state.gone || !state.target) return changes;
    const pending = state.open.filter((h) => !h.suspended).map((h) => h.id);
    if (state.open.length > 0) {
      if (!state.held) {
        await change(input, state.target, 'suspend', state.open[0]!.id, state.open.map((h) => h.reason));
        changes++;
      } else if (!pending.length) {
        return changes;
      }
      // Recorded only now that the service is stopped (by this change or an earlier hold's).
      await records.suspensionMarkSuspended({ ...ids, holdIds: pending });
      continue;
    }
    if (!state.held) return changes;
    await change(input, state.target, 'restore', lastOf(state));
    changes++;
    await records.suspensionMarkRestored({ ...ids, holdIds: state.toRestore });
  }
  return changes;
}

const lastOf = (state: SuspensionState) => state.toRestore[state.toRestore.length - 1] ?? 'none';

/** Stops (suspend) or starts (restore) the service through its own workflow or node activity. */
async function change(input: ServiceSuspensionInput, target: SuspensionTarget, action: 'suspend' | 'restore', holdId: string, reasons: SuspensionReason[] = []): Promise<void> {
  const workflowId = WorkflowId.suspensionAction(input.resource, action, holdId);
  const ctx = { tenantId: input.tenantId, actor: input.actor };
  switch (target.kind) {
    case 'proxmox_guest':
      await executeChild(vmPower, {
        workflowId,
        args: [{ ...ctx, clusterId: target.clusterId, node: target.node, vmid: target.vmid, kind: target.guestKind, guestId: target.guestId, action: action === 'suspend' ? 'stop' : 'start' }],
        typedSearchAttributes: runSearchAttributes({ ...ctx, operation: 'vm.power', resources: [resourceRef('guest', target.guestId), resourceRef('cluster', target.clusterId), input.resource], actor: input.actor }),
      });
      return;
    case 'container':
      await executeChild(containerPower, {
        workflowId,
        args: [{ ...ctx, containerId: target.containerId, nodeId: target.nodeId, action: action === 'suspend' ? 'stop' : 'start' }],
        typedSearchAttributes: runSearchAttributes({ ...ctx, operation: `container.${action === 'suspend' ? 'stop' : 'start'}`, resources: [resourceRef('container', target.containerId), resourceRef('node', target.nodeId), input.resource], actor: input.actor }),
      });
      return;
    case 'app': {
      const node = proxyActivities<DeployActivities>({ ...proxyCall, taskQueue: TaskQueue.node(target.nodeId) });
      if (action === 'suspend') await node.suspendAppRoute({ appId: target.appId, hostname: target.hostname, reasons });
      else if (target.upstream) await node.switchTraffic({ appId: target.appId, hostname: target.hostname, upstream: target.upstream });
      else await node.removeRoute({ appId: target.appId });
      return;
    }
  }
}

