import {
  createContainerDbActivities,
  createDeployActivities,
  createDockerActivities,
  createGuestDbActivities,
  createMailActivities,
  createPostgresClusterDirectory,
  createProxmoxActivities,
  createReleaseDbActivities,
  createRunLog,
  createRunLogActivities,
  createSourceCheckout,
  reportNodeHealth,
  restoreAppRoutes,
  type EdgeProxy,
} from '@keelson/activities';
import type { KeyRing } from '@keelson/common/codec';
import { TaskQueue } from '@keelson/common/constants';
import { keelsonDataConverter } from '@keelson/common/temporal';
import type { Database } from '@keelson/db';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type Docker from 'dockerode';
import { fileURLToPath } from 'node:url';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

export interface WorkerDeps {
  connection: NativeConnection;
  namespace: string;
  db: Database;
  keys: KeyRing;
  /** The core task queue (KEELSON_CORE_TASK_QUEUE); defaults to `core`. */
  coreTaskQueue?: string;
  /** A prebuilt bundle (tests, production images); when absent the worker bundles at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

/**
 * The core worker: every workflow, the activities that need only Postgres, and the Proxmox
 * activities (they reach clusters over HTTPS, so any core worker can run them).
 */
export function createCoreWorker(deps: WorkerDeps): Promise<Worker> {
  const runLog = createRunLog(deps.db);
  const clusters = createPostgresClusterDirectory({ db: deps.db, keys: deps.keys });
  return Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: deps.coreTaskQueue ?? TaskQueue.core,
    ...(deps.workflowBundle ? { workflowBundle: deps.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    dataConverter: keelsonDataConverter(deps.keys),
    activities: {
      ...createContainerDbActivities({ db: deps.db, keys: deps.keys }),
      ...createReleaseDbActivities({ db: deps.db }),
      ...createRunLogActivities({ runLog }),
      ...createGuestDbActivities({ db: deps.db }),
      ...createProxmoxActivities({ clusters, runLog }),
      ...createMailActivities({ db: deps.db, keys: deps.keys }),
    },
  });
}

export interface NodeWorkerDeps extends Omit<WorkerDeps, 'workflowBundle'> {
  nodeId: string;
  docker: Docker;
  /** Where app sources are checked out on this host. */
  workDir: string;
  /** This host's edge proxy (its admin API is reachable only from the host). */
  proxy: EdgeProxy;
}

/** A node worker: the Docker and deploy activities for one host, on that host's own task queue. */
export async function createNodeWorker(deps: NodeWorkerDeps): Promise<Worker> {
  await reportNodeHealth(deps.db, deps.docker, deps.nodeId);
  await restoreRoutes(deps);
  const runLog = createRunLog(deps.db);
  return Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: TaskQueue.node(deps.nodeId),
    dataConverter: keelsonDataConverter(deps.keys),
    activities: {
      ...createDockerActivities({ docker: deps.docker, runLog }),
      ...createDeployActivities({
        docker: deps.docker,
        runLog,
        keys: deps.keys,
        source: createSourceCheckout({ workDir: deps.workDir }),
        proxy: deps.proxy,
      }),
    },
  });
}

/**
 * Gives the node's edge proxy back the routes of the apps it serves, if it lost them (a restarted
 * Caddy keeps nothing). A proxy that does not answer is reported, not fatal: deploys will say so.
 */
export async function restoreRoutes(deps: Pick<NodeWorkerDeps, 'db' | 'proxy' | 'nodeId'>): Promise<void> {
  try {
    const { restored } = await restoreAppRoutes(deps);
    if (restored.length) console.warn(JSON.stringify({ msg: 'restored app routes on the edge proxy', nodeId: deps.nodeId, apps: restored }));
  } catch (err) {
    console.warn(JSON.stringify({ msg: 'could not restore app routes on the edge proxy', nodeId: deps.nodeId, error: (err as Error).message }));
  }
}
