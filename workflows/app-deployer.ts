import { AppOperation, WorkflowId } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineSignal,
  executeChild,
  log,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ReleaseDbActivities } from '@keelson/activities/db/releases';
import { deployRelease } from './deploy-release';
import type { RunContext } from './run-context';

/** A deploy someone asked for; its release row (status `queued`) already exists. */
export interface DeployRequest {
  releaseId: string;
  operation: typeof AppOperation.deploy | typeof AppOperation.rollback;
  actor: string;
}

export interface AppDeployerInput extends RunContext {
  appId: string;
  /** Requests carried over a continue-as-new. */
  pending?: DeployRequest[];
}

export const deploySignal = defineSignal<[DeployRequest]>('deploy');

/** How long the deployer waits for more work before it ends (the next request starts it again). */
const IDLE_TIMEOUT = '10m';
/** Deploys per run before continuing as new, to keep the history short. */
const DEPLOYS_PER_RUN = 50;

const db = proxyActivities<ReleaseDbActivities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 10, initialInterval: '500ms' } });

/**
 * One per app (`app/<id>/deployer`), started or signalled by every deploy request: it runs the
 * app's deploys one at a time, each as its own child run (`deploy/<app>/<release>`). Requests that
 * arrive while a deploy runs wait; when several wait, only the newest runs and the others are
 * recorded as superseded. A deploy that fails or is cancelled does not stop the queue.
 */
export async function appDeployer(input: AppDeployerInput): Promise<{ deploys: number }> {
  let queue: DeployRequest[] = [...(input.pending ?? [])];
  const seen = new Set(queue.map((r) => r.releaseId));
  setHandler(deploySignal, (request) => {
    // A request sent twice (a client retrying signal-with-start) is one request.
    if (seen.has(request.releaseId)) return;
    seen.add(request.releaseId);
    queue.push(request);
  });

  let deploys = 0;
  for (;;) {
    if (!(await condition(() => queue.length > 0, IDLE_TIMEOUT))) break;
    const next = queue.at(-1)!;
    const replaced = queue.slice(0, -1).map((r) => r.releaseId);
    queue = [];
    await db.supersedeReleases({ releaseIds: replaced, by: next.releaseId });

    try {
      await executeChild(deployRelease, {
        workflowId: WorkflowId.deployRelease(input.appId, next.releaseId),
        args: [{ tenantId: input.tenantId, actor: next.actor, appId: input.appId, releaseId: next.releaseId }],
        typedSearchAttributes: runSearchAttributes({
          tenantId: input.tenantId,
          operation: next.operation,
          resources: [`app:${input.appId}`, `release:${next.releaseId}`],
          actor: next.actor,
        }),
        // A deploy in flight finishes (or compensates) on its own terms, whatever happens here.
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
    } catch (err) {
      // The deploy's own run and release record say why; the next request still runs.
      log.info('deploy did not complete', { releaseId: next.releaseId, error: (err as Error).message });
    }
    deploys++;

    if (deploys >= DEPLOYS_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof appDeployer>({ ...input, pending: queue });
    }
  }
  return { deploys };
}
