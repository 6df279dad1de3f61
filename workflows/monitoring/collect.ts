import { TaskQueue } from '@keelson/common/constants';
import { proxyActivities } from '@temporalio/workflow';
import type { DockerMetricsActivities, DockerNodeDirectoryActivities } from '../../activities/monitoring/collect-docker';
import type { ProxmoxMetricsActivities } from '../../activities/monitoring/collect-proxmox';

/**
 * One collection round, started by the collection Schedule (overlapping rounds are skipped):
 * every Docker node is read by its own worker on its own task queue, every Proxmox cluster through
 * its API by a core worker. A node whose worker does not pick the work up in time, or fails it,
 * is recorded unreachable — which is what raises its one alert and holds those of what runs on it.
 */

export interface CollectInput {
  /** How long a node's worker has to pick the collection up before the node counts as unreachable. */
  nodeTimeoutMs: number;
}

export interface CollectResult {
  dockerNodes: Array<{ nodeId: string; ok: boolean; error?: string }>;
  clusters: Array<{ clusterId: string; reachable: boolean; error?: string }>;
}

/**
 * Rounds are skipped while one is open, so no call may outlive a dead worker for long: short reads
 * get a short timeout, a cluster's round heartbeats (activities/monitoring/keep-alive).
 */
const lists = proxyActivities<DockerNodeDirectoryActivities & ProxmoxMetricsActivities>({
  startToCloseTimeout: '15s',
  retry: { maximumAttempts: 2, initialInterval: '1s' },
});
const core = proxyActivities<ProxmoxMetricsActivities>({
  startToCloseTimeout: '2m',
  heartbeatTimeout: '5s',
  retry: { maximumAttempts: 2, initialInterval: '1s' },
});

export async function monitoringCollect(input: CollectInput): Promise<CollectResult> {
  const [nodes, clusters] = await Promise.all([lists.listDockerNodes(), lists.listProxmoxClusters()]);
  const dockerNodes = await Promise.all(
    nodes.map(async (node) => {
      const onNode = proxyActivities<DockerMetricsActivities>({
        taskQueue: TaskQueue.node(node.id),
        scheduleToStartTimeout: input.nodeTimeoutMs,
        startToCloseTimeout: '1m',
        heartbeatTimeout: '5s',
        // The next round tries again; a retry now would only report the same node late.
        retry: { maximumAttempts: 1 },
      });
      try {
        await onNode.collectDockerNode();
        return { nodeId: node.id, ok: true };
      } catch (err) {
        const error = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message;
        await lists.markDockerNodeUnreachable({ nodeId: node.id });
        return { nodeId: node.id, ok: false, error };
      }
    }),
  );
  const results = await Promise.all(clusters.map((clusterId) => core.collectProxmoxCluster({ clusterId })));
  return { dockerNodes, clusters: results.map((r) => ({ clusterId: r.clusterId, reachable: r.reachable, ...(r.error ? { error: r.error } : {}), ...(r.timings ? { timings: r.timings } : {}) })) };
}
