import { TaskQueue } from '@keelson/common/constants';
import { ApplicationFailure, CancellationScope, isCancellation, log, proxyActivities } from '@temporalio/workflow';
import type { ContainerDbActivities } from '@keelson/activities/db/containers';
import type { DockerActivities, DockerContainerSpec } from '@keelson/activities/docker/index';
import { describeFailure, failureType } from './failures';
import type { RunContext } from './run-context';

export interface ContainerCreateInput extends RunContext {
  containerId: string;
  nodeId: string;
  /** Seconds of the new container's output to capture into the run after it starts. */
  logCaptureSeconds?: number;
}

export interface ContainerCreateResult {
  dockerId: string;
  state: 'running';
}

// Short start-to-close: a worker that dies mid-call is noticed quickly and the call retried.
const dockerCalls = { startToCloseTimeout: '30s', retry: { maximumAttempts: 5, initialInterval: '1s' } } as const;
const logCapture = { startToCloseTimeout: '2m', heartbeatTimeout: '20s' } as const;
const dbCalls = { startToCloseTimeout: '30s', retry: { maximumAttempts: 10, initialInterval: '500ms', maximumInterval: '10s' } } as const;

// Core activities run on the workflow's own task queue (no taskQueue given).
const db = proxyActivities<ContainerDbActivities>(dbCalls);

/**
 * Create a container on its node from the spec recorded for it: check the image, create (or
 * adopt) the Docker container, start it, capture its first output, record it as running. If any
 * step fails, the Docker container is removed and the record marked failed.
 */
export async function containerCreate(input: ContainerCreateInput): Promise<ContainerCreateResult> {
  const docker = proxyActivities<DockerActivities>({ taskQueue: TaskQueue.node(input.nodeId), ...dockerCalls });
  const dockerLogs = proxyActivities<DockerActivities>({ taskQueue: TaskQueue.node(input.nodeId), ...logCapture });
  const compensations: Array<() => Promise<void>> = [];

  try {
    const spec: DockerContainerSpec = await db.loadContainerSpec({ tenantId: input.tenantId, containerId: input.containerId });
    await docker.ensureImage({ image: spec.image });

    compensations.unshift(() => docker.removeContainer({ containerId: input.containerId }));
    const { dockerId } = await docker.createContainer(spec);

    await docker.startContainer({ containerId: input.containerId, spec });
    await db.recordContainerState({ tenantId: input.tenantId, containerId: input.containerId, state: 'running', dockerId });

    if ((input.logCaptureSeconds ?? 5) > 0) {
      await dockerLogs.captureContainerLogs({ tenantId: input.tenantId, containerId: input.containerId, seconds: input.logCaptureSeconds ?? 5 });
    }
    return { dockerId, state: 'running' };
  } catch (err) {
    const reason = describeFailure(err);
    log.warn('container create failed, compensating', { reason });
    await CancellationScope.nonCancellable(async () => {
      for (const undo of compensations) await undo();
      await db.recordContainerState({
        tenantId: input.tenantId,
        containerId: input.containerId,
        state: 'failed',
        error: reason,
      });
    });
    if (isCancellation(err)) throw err;
    throw ApplicationFailure.create({ type: failureType(err, 'ContainerCreateFailed'), message: reason, nonRetryable: true, cause: err as Error });
  }
}
