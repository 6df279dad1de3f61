import { TaskQueue } from '@keelson/common/constants';
import type { ReleaseTimings } from '@keelson/db/schema';
import { ApplicationFailure, CancellationScope, isCancellation, log, proxyActivities, sleep } from '@temporalio/workflow';
import type { DeployPlan, ReleaseDbActivities, ReleasePatch } from '@keelson/activities/db/releases';
import type { DeployActivities } from '@keelson/activities/deploy/index';
import { awaitApproval } from './approval';
import { describeFailure, failureType } from './failures';
import type { RunContext } from './run-context';

export interface DeployReleaseInput extends RunContext {
  appId: string;
  releaseId: string;
}

export interface DeployReleaseResult {
  releaseId: string;
  commit: string | null;
  image: string;
  upstream: string;
  /** The release it replaced, now drained and stopped. */
  replaced: string | null;
  timings: ReleaseTimings;
}

/**
 * Node activities outlast a restart of the node's Docker engine or its edge proxy, which takes
 * 10–30 s: a failing step is retried with backoff for about this long (attempts against an engine
 * that is down fail at once), not a fixed few times. Every activity here may run again safely
 * (images by tag, containers by label, routes by id). Not a schedule-to-close timeout: a step
 * waiting for its node's worker to come back must keep waiting, or its compensation could not run.
 */
const RESTART_BUDGET_MS = 120_000;
const backoff = { initialInterval: 1_000, backoffCoefficient: 2, maximumInterval: 15_000 } as const;
const engineRetry = { ...backoff, maximumAttempts: attemptsWithin(RESTART_BUDGET_MS, backoff) } as const;
const nodeCalls = { startToCloseTimeout: '1m', retry: engineRetry } as const;
/** A build: up to 30 minutes an attempt, heartbeating as Docker reports progress. */
const buildCalls = { startToCloseTimeout: '30m', heartbeatTimeout: '30s', retry: engineRetry } as const;

const dbCalls = { startToCloseTimeout: '30s', retry: { maximumAttempts: 10, initialInterval: '500ms', maximumInterval: '10s' } } as const;
const db = proxyActivities<ReleaseDbActivities>(dbCalls);

/**
 * One deploy of an app, from a commit (or, for a rollback, an earlier release's image) to serving
 * traffic: fetch → build → start beside the current release → health check → (approval) →
 * switch the proxy → watch → drain and stop the old release.
 *
 * Before the switch, any failure or cancellation removes the new container and leaves the old
 * release serving, untouched. After it, a release that stops answering within the watch window
 * (or a cancellation then) switches traffic back. Every outcome lands on the release record.
 */
export async function deployRelease(input: DeployReleaseInput): Promise<DeployReleaseResult> {
  const { tenantId, appId, releaseId } = input;
  const plan = await db.loadDeployPlan({ appId, releaseId });
  const { app } = plan;
  const taskQueue = TaskQueue.node(app.nodeId);
  const node = proxyActivities<DeployActivities>({ taskQueue, ...nodeCalls });
  const builder = proxyActivities<DeployActivities>({ taskQueue, ...buildCalls });
  const prober = proxyActivities<DeployActivities>({
    taskQueue,
    startToCloseTimeout: `${app.healthCheck.timeoutSeconds + app.watchSeconds + 60}s`,
    heartbeatTimeout: '15s',
    retry: engineRetry,
  });

  const timings: ReleaseTimings = {};
  const stamp = (patch: ReleasePatch) => db.updateRelease({ releaseId, patch: { ...patch, timings } });
  const timed = async <T>(key: keyof ReleaseTimings, work: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      return await work();
    } finally {
      timings[key] = Date.now() - t0;
    }
  };

  let switched = false;
  let commit: string | null = plan.release.commit;
  try {
    const image = await imageFor(plan, { node, builder, stamp, timed, resolved: (c) => (commit = c) });
    await stamp({ status: 'starting', image });
    const started = await timed('startMs', () =>
      node.startRelease({ tenantId, appId, releaseId, image, containerPort: app.containerPort, envSealed: app.envSealed }),
    );
    await stamp({ status: 'checking', containerName: started.containerName, upstream: started.upstream });
    await timed('healthMs', () => prober.checkHealth({ tenantId, releaseId, upstream: started.upstream, health: app.healthCheck }));

    if (app.requireApproval) {
      await stamp({ status: 'awaiting_approval' });
      const decision = await timed('approvalMs', () =>
        awaitApproval({
          prompt: `Switch ${app.hostname} to ${commit ? commit.slice(0, 12) : image}? The new release passed its health check.`,
          timeout: `${app.approvalTimeoutSeconds}s`,
        }),
      );
      if (decision.outcome === 'expired') throw ApplicationFailure.nonRetryable(`no approval within ${app.approvalTimeoutSeconds}s`, 'ApprovalExpired');
      if (decision.outcome === 'rejected') {
        throw ApplicationFailure.nonRetryable(`rejected by ${decision.by}${decision.comment ? `: ${decision.comment}` : ''}`, 'ApprovalRejected');
      }
    }

    await timed('switchMs', () => node.switchTraffic({ appId, hostname: app.hostname, upstream: started.upstream }));
    switched = true;
    await db.recordSwitch({ appId, releaseId, replacedReleaseId: plan.current?.releaseId ?? null });

    try {
      await timed('watchMs', () =>
        prober.watchRelease({ tenantId, releaseId, upstream: started.upstream, health: app.healthCheck, seconds: app.watchSeconds }),
      );
    } catch (err) {
      const reason = describeFailure(err);
      log.warn('new release unhealthy after the switch; switching back', { reason });
      await CancellationScope.nonCancellable(async () => {
        if (plan.current) await node.switchTraffic({ appId, hostname: app.hostname, upstream: plan.current.upstream });
        else await node.removeRoute({ appId });
        await node.removeRelease({ releaseId });
        await stamp({});
        await db.recordRollback({ appId, releaseId, restoredReleaseId: plan.current?.releaseId ?? null, error: reason });
      });
      if (isCancellation(err)) throw err;
      throw ApplicationFailure.create({
        type: 'DeployRolledBack',
        message: `switched back to ${plan.current ? `release ${plan.current.releaseId}` : 'no release'}: ${reason}`,
        nonRetryable: true,
        cause: err as Error,
      });
    }

    // The new release holds. The old one finishes its in-flight requests, then stops; a
    // cancellation now would only leave it running, so this part is not cancellable.
    await CancellationScope.nonCancellable(async () => {
      if (plan.current) {
        await sleep(app.drainSeconds * 1000);
        await node.removeRelease({ releaseId: plan.current.releaseId });
      }
      await stamp({ finished: true });
    });
    return { releaseId, commit, image, upstream: started.upstream, replaced: plan.current?.releaseId ?? null, timings };
  } catch (err) {
    if (switched) throw err; // already switched back and recorded above
    const reason = describeFailure(err);
    log.warn('deploy failed before the switch; removing the new release', { reason });
    await CancellationScope.nonCancellable(async () => {
      await node.removeRelease({ releaseId });
      await stamp({ status: isCancellation(err) || /^Approval(Rejected|Expired)$/.test(failureType(err, '')) ? 'canceled' : 'failed', error: reason, finished: true });
    });
    if (isCancellation(err)) throw err;
    throw ApplicationFailure.create({ type: failureType(err, 'DeployFailed'), message: reason, nonRetryable: true, cause: err as Error });
  }
}

interface ImageSteps {
  node: DeployActivities;
  builder: DeployActivities;
  stamp: (patch: ReleasePatch) => Promise<void>;
  timed: <T>(key: keyof ReleaseTimings, work: () => Promise<T>) => Promise<T>;
  /** Called with the exact commit once known. */
  resolved: (commit: string | null) => void;
}

/** The image to run: an earlier release's (rollback, no rebuild) or one built from the commit. */
async function imageFor(plan: DeployPlan, { node, builder, stamp, timed, resolved }: ImageSteps): Promise<string> {
  const { app, release, source, tenantId } = plan;
  if (release.trigger === 'rollback' && source) {
    resolved(source.commit);
    await stamp({ status: 'starting', image: source.image, ...(source.commit ? { commitSha: source.commit } : {}), started: true });
    if (!(await node.hasImage({ image: source.image }))) {
      throw ApplicationFailure.nonRetryable(`image ${source.image} of release ${source.releaseId} is no longer on the node`, 'ImageMissing');
    }
    return source.image;
  }
  await stamp({ status: 'building', started: true });
  const ref = { tenantId, appId: app.id, repoUrl: app.repoUrl, branch: app.branch, commit: release.commit, repoCredentialsSealed: app.repoCredentialsSealed };
  const fetched = await timed('fetchMs', () => node.fetchSource(ref));
  resolved(fetched.commit);
  await stamp({ commitSha: fetched.commit, commitMessage: fetched.subject });
  const built = await timed('buildMs', () =>
    builder.buildImage({ ...ref, commit: fetched.commit, dockerfilePath: app.dockerfilePath, buildContext: app.buildContext }),
  );
  return built.image;
}

/** How many attempts fit in `budgetMs` of waiting between them, with this backoff. */
function attemptsWithin(budgetMs: number, { initialInterval, backoffCoefficient, maximumInterval }: typeof backoff): number {
  let attempts = 1;
  for (let waited = 0, next: number = initialInterval; waited < budgetMs; attempts++, next = Math.min(next * backoffCoefficient, maximumInterval)) waited += next;
  return attempts;
}
