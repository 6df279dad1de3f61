import { TaskQueue } from '@keelson/common/constants';
import { proxyActivities } from '@temporalio/workflow';
import type { ContainerDbActivities } from '@keelson/activities/db/containers';
import type { DockerActivities } from '@keelson/activities/docker/index';
import type { RunContext } from './run-context';

export interface ContainerRemoveInput extends RunContext {
  containerId: string;
  nodeId: string;
}

const dockerCalls = { startToCloseTimeout: '2m', retry: { maximumAttempts: 5, initialInterval: '1s' } } as const;
// Core activities run on the workflow's own task queue (no taskQueue given).
const db = proxyActivities<ContainerDbActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 10, initialInterval: '500ms', maximumInterval: '10s' },
});

/** Stop and remove the Docker container (gone already is fine), then mark the record removed. */
export async function containerRemove(input: ContainerRemoveInput): Promise<{ state: 'removed' }> {
  const docker = proxyActivities<DockerActivities>({ taskQueue: TaskQueue.node(input.nodeId), ...dockerCalls });
  await db.recordContainerState({ tenantId: input.tenantId, containerId: input.containerId, state: 'removing' });
  await docker.removeContainer({ containerId: input.containerId });
  await db.recordContainerState({ tenantId: input.tenantId, containerId: input.containerId, state: 'removed' });
  return { state: 'removed' };
}
