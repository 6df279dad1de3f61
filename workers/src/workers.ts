import { DEFAULT_MAX_CACHED_WORKFLOWS } from './env';
import {
  createAlertActivities,
  createContainerDbActivities,
  createOrderActivities,
  createDockerMetricsActivities,
  createDockerNodeDirectoryActivities,
  createEvaluateActivities,
  createProxmoxMetricsActivities,
  createRetentionActivities,
  DEFAULT_INTERVALS,
  type ProxmoxMetricsOptions,
  type RetentionPolicy,
  createDeployActivities,
  createDockerActivities,
  createGuestDbActivities,
  createMailActivities,
  createBillingActivities,
  createOrderBilling,
  createKycActivities,
  createPaymentActivities,
  createTicketActivities,
  createSuspensionActivities,
  appSuspensionReasons,
  createDunningActivities,
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
import { dataKeysFor, type Database } from '@keelson/db';
import { runsCompleted, runsFailed } from '@keelson/activities/monitoring/prometheus';
import { Client } from '@temporalio/client';
import { NativeConnection, Worker, type InjectedSinks, type WorkerOptions } from '@temporalio/worker';
import type { KeelsonSinks } from '../../workflows/metrics-interceptor';
import type Docker from 'dockerode';
import { fileURLToPath } from 'node:url';
import { createTerraformGuestActivities } from '@keelson/activities/terraform/guests';
import { createTerraformActivities } from '@keelson/activities/terraform/index';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));
/** Bundled with the workflows (also into prebuilt bundles): counts runs as they end. */
export const WORKFLOW_INTERCEPTOR_MODULES = [fileURLToPath(new URL('../../workflows/metrics-interceptor.ts', import.meta.url))];

/**
 * Where workflow code reports ends of runs: Keelson's Prometheus counters, by operation. Every
 * worker of Keelson's workflow bundle gives these (its interceptor calls them).
 */
export const workflowSinks: InjectedSinks<KeelsonSinks> = {
  runMetrics: {
    closed: {
      fn: (_info, operation, outcome) => (outcome === 'completed' ? runsCompleted : runsFailed).inc({ operation }),
      callDuringReplay: false,
    },
  },
};

/** Monitoring settings of a core worker; every duration is configurable so tests run in seconds. */
export interface MonitoringWorkerOptions {
  /** The evaluation schedule's interval (alert workflows judge staleness by it). */
  evaluateEveryMs?: number;
  retention?: RetentionPolicy;
  proxmox?: ProxmoxMetricsOptions;
}

/** How core workers run OpenTofu for Terraform stacks. */
export interface TerraformWorkerOptions {
  /** The tofu binary; default `.tools/bin/tofu` (scripts/tofu.sh), else `tofu` on PATH. */
  binary?: string;
  /** The pg backend's database (state, one schema per stack); default the worker's database. */
  backendUrl?: string;
  /** OpenTofu CLI config (provider mirrors); default OpenTofu's own. */
  cliConfigFile?: string;
  /** Keelson's modules; default infra/terraform. */
  modulesDir?: string;
  /** Scratch space for stack working directories; default the system's temp dir. */
  workDir?: string;
  /** How long a retried apply waits for a dead attempt's state lock. */
  lockGraceMs?: number;
}

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** lib/pq (the pg backend's driver) insists on TLS unless told; a local server has none. */
export function terraformBackendUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  if (!url.searchParams.has('sslmode') && ['127.0.0.1', 'localhost', '[::1]', ''].includes(url.hostname)) url.searchParams.set('sslmode', 'disable');
  return url.toString();
}

export interface WorkerDeps {
  connection: NativeConnection;
  namespace: string;
  db: Database;
  keys: KeyRing;
  /** The core task queue (KEELSON_CORE_TASK_QUEUE); defaults to `core`. */
  coreTaskQueue?: string;
  /** A prebuilt bundle (tests, production images); when absent the worker bundles at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  monitoring?: MonitoringWorkerOptions;
  /**
   * Billing's clock: tests move "now" to run months of cycles in seconds. `dunningDayMs` is how
   * long one day of a dunning ladder lasts (default a day; tests make it a second or less).
   */
  billing?: { now?: () => Date; dunningDayMs?: number; dunningRecheckMs?: number };
  terraform?: TerraformWorkerOptions;
  /** Card payments: Stripe's API base URL (default Stripe's own; stripe-mock in tests and `npm run dev`). */
  payments?: { stripeApiUrl?: string };
  /** The worker's database URL (the Terraform state backend's default). */
  databaseUrl?: string;
  /** The core worker's sticky cache size; default DEFAULT_MAX_CACHED_WORKFLOWS (not the SDK's, which follows the machine's memory). */
  maxCachedWorkflows?: number;
}

/**
 * The core worker: every workflow, the activities that need only Postgres, and the Proxmox
 * activities (they reach clusters over HTTPS, so any core worker can run them).
 */
export function createCoreWorker(deps: WorkerDeps): Promise<Worker> {
  const runLog = createRunLog(deps.db);
  const clusters = createPostgresClusterDirectory({ db: deps.db, keys: deps.keys });
  const taskQueue = deps.coreTaskQueue ?? TaskQueue.core;
  const dataConverter = keelsonDataConverter(deps.keys, dataKeysFor(deps.db, deps.keys));
  // Alert workflows are started and signalled by the evaluation's activities.
  const temporal = new Client({ connection: deps.connection, namespace: deps.namespace, dataConverter });
  const monitoring = deps.monitoring ?? {};
  return Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue,
    ...(deps.workflowBundle ? { workflowBundle: deps.workflowBundle } : { workflowsPath: WORKFLOWS_PATH, interceptors: { workflowModules: WORKFLOW_INTERCEPTOR_MODULES } }),
    maxCachedWorkflows: deps.maxCachedWorkflows ?? DEFAULT_MAX_CACHED_WORKFLOWS,
    dataConverter,
    sinks: workflowSinks,
    activities: {
      ...createDockerNodeDirectoryActivities({ db: deps.db }),
      ...createProxmoxMetricsActivities({ db: deps.db, clusters, options: monitoring.proxmox }),
      ...createEvaluateActivities({ db: deps.db, temporal, taskQueue, intervalMs: monitoring.evaluateEveryMs ?? DEFAULT_INTERVALS.evaluateEveryMs }),
      ...createAlertActivities({ db: deps.db, keys: deps.keys }),
      ...createRetentionActivities({ db: deps.db, policy: monitoring.retention }),
      ...createContainerDbActivities({ db: deps.db, keys: deps.keys }),
      ...createReleaseDbActivities({ db: deps.db }),
      ...createRunLogActivities({ runLog }),
      ...createGuestDbActivities({ db: deps.db }),
      ...createProxmoxActivities({ clusters, runLog }),
      ...createMailActivities({ db: deps.db, keys: deps.keys }),
      ...createOrderActivities({ db: deps.db, keys: deps.keys, now: deps.billing?.now, ...createOrderBilling({ db: deps.db, now: deps.billing?.now }) }),
      ...createBillingActivities({ db: deps.db, keys: deps.keys, now: deps.billing?.now }),
      ...terraformActivities(deps, runLog, clusters),
      ...createTerraformGuestActivities({ db: deps.db }),
      ...createKycActivities({ db: deps.db }),
      ...createPaymentActivities({ db: deps.db, keys: deps.keys, stripeApiUrl: deps.payments?.stripeApiUrl, temporal, taskQueue, now: deps.billing?.now }),
      ...createTicketActivities({ db: deps.db }),
      ...createSuspensionActivities({ db: deps.db, temporal }),
      ...createDunningActivities({ db: deps.db, now: deps.billing?.now, dayMs: deps.billing?.dunningDayMs, recheckMs: deps.billing?.dunningRecheckMs }),
    },
  });
}

function terraformActivities(deps: WorkerDeps, runLog: ReturnType<typeof createRunLog>, clusters: ReturnType<typeof createPostgresClusterDirectory>) {
  const options = deps.terraform ?? {};
  const backendUrl = options.backendUrl ?? (deps.databaseUrl ? terraformBackendUrl(deps.databaseUrl) : undefined);
  const bundled = join(REPO_ROOT, '.tools/bin/tofu');
  return createTerraformActivities({
    db: deps.db,
    keys: deps.keys,
    runLog,
    clusters,
    tofu: {
      binary: options.binary ?? (existsSync(bundled) ? bundled : 'tofu'),
      // Without a database URL the activities fail with a message that says so when a stack runs.
      backendUrl: backendUrl ?? '',
      ...(options.cliConfigFile ? { cliConfigFile: options.cliConfigFile } : {}),
    },
    modulesDir: options.modulesDir ?? join(REPO_ROOT, 'infra/terraform'),
    workDir: options.workDir ?? join(tmpdir(), 'keelson-terraform'),
    ...(options.lockGraceMs !== undefined ? { lockGraceMs: options.lockGraceMs } : {}),
  });
}

export interface NodeWorkerDeps extends Omit<WorkerDeps, 'workflowBundle'> {
  nodeId: string;
  docker: Docker;
  /** Where app sources are checked out on this host. */
  workDir: string;
  /** This host's edge proxy (its admin API is reachable only from the host). */
  proxy: EdgeProxy;
  /** Where the edge proxy serves apps on this host (http://127.0.0.1:8080): apps' uptime checks go there. */
  appBaseUrl?: string;
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
    dataConverter: keelsonDataConverter(deps.keys, dataKeysFor(deps.db, deps.keys)),
    activities: {
      ...createDockerActivities({ docker: deps.docker, runLog }),
      ...createDockerMetricsActivities({ db: deps.db, docker: deps.docker, nodeId: deps.nodeId, appBaseUrl: deps.appBaseUrl }),
      ...createDeployActivities({
        docker: deps.docker,
        runLog,
        keys: deps.keys,
        source: createSourceCheckout({ workDir: deps.workDir }),
        proxy: deps.proxy,
        suspensionOf: (appId) => appSuspensionReasons(deps.db, appId),
      }),
    },
  });
}

/**
 * Gives the node's edge proxy back the routes of the apps it serves, if it lost them (a restarted
 * Caddy keeps nothing). A proxy that does not answer is reported, not fatal: deploys will say so.
 */
export async function restoreRoutes(deps: Pick<NodeWorkerDeps, 'db' | 'proxy' | 'nodeId' | 'docker'>): Promise<void> {
  try {
    const { restored, followed } = await restoreAppRoutes(deps);
    if (restored.length) console.warn(JSON.stringify({ msg: 'restored app routes on the edge proxy', nodeId: deps.nodeId, apps: restored }));
    if (followed.length) console.warn(JSON.stringify({ msg: 'moved app routes to where their releases listen now', nodeId: deps.nodeId, apps: followed }));
  } catch (err) {
    console.warn(JSON.stringify({ msg: 'could not restore app routes on the edge proxy', nodeId: deps.nodeId, error: (err as Error).message }));
  }
}
