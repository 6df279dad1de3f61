import { TaskQueue } from '@keelson/common/constants';
import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { ContainerDbActivities } from '@keelson/activities/db/containers';
import type { DockerActivities } from '@keelson/activities/docker/index';
import type { RunContext } from './run-context';

export const POWER_ACTIONS = ['start', 'stop', 'restart'] as const;
export type PowerAction = (typeof POWER_ACTIONS)[number];

export interface ContainerPowerInput extends RunContext {
  containerId: string;
  nodeId: string;
  action: PowerAction;
  /** Seconds Docker waits after SIGTERM before SIGKILL on stop and restart. */
  stopTimeoutSeconds?: number;
}

const dockerCalls = { startToCloseTimeout: '2m', retry: { maximumAttempts: 5, initialInterval: '1s' } } as const;
const logCapture = { startToCloseTimeout: '1m', heartbeatTimeout: '20s' } as const;
// Core activities run on the workflow's own task queue (no taskQueue given).
const db = proxyActivities<ContainerDbActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 10, initialInterval: '500ms', maximumInterval: '10s' },
});

/** Start, stop or restart a container; each Docker call is a no-op when already in that state. */
export async function containerPower(input: ContainerPowerInput): Promise<{ state: 'running' | 'stopped' }> {
  const docker = proxyActivities<DockerActivities>({ taskQueue: TaskQueue.node(input.nodeId), ...dockerCalls });
  const dockerLogs = proxyActivities<DockerActivities>({ taskQueue: TaskQueue.node(input.nodeId), ...logCapture });
  const ref = { containerId: input.containerId };
  try {
    switch (input.action) {
      case 'start':
        await docker.startContainer(ref);
        break;
      case 'stop':
        await docker.stopContainer({ ...ref, timeoutSeconds: input.stopTimeoutSeconds ?? 10 });
        break;
      case 'restart':
        await docker.restartContainer({ ...ref, timeoutSeconds: input.stopTimeoutSeconds ?? 10 });
        break;
    }
  } catch (err) {
    const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
    throw ApplicationFailure.create({
      type: cause instanceof ApplicationFailure && cause.type ? cause.type : 'ContainerActionFailed',
      message: `${input.action} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      nonRetryable: true,
      cause: err as Error,
    });
  }
  const state = input.action === 'stop' ? 'stopped' : 'running';
  await db.recordContainerState({ tenantId: input.tenantId, containerId: input.containerId, state });
  if (state === 'running') await dockerLogs.captureContainerLogs({ ...ref, tenantId: input.tenantId, seconds: 2 });
  return { state };
}
