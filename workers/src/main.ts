import { connectDb } from '@keelson/db';
import { ensureMonitoringSchedules, reportNodeHealth } from '@keelson/activities';
import { collectProcessMetrics, registry } from '@keelson/activities/monitoring/prometheus';
import { closeSmtpPools } from '@keelson/activities/mail/index';
import { Client } from '@temporalio/client';
import { createServer } from 'node:http';
import { CaddyProxy } from '@keelson/activities/caddy/proxy';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import Docker from 'dockerode';
import { resolve } from 'node:path';
import { loadWorkerEnv } from './env';
import { createCoreWorker, createNodeWorker, restoreRoutes } from './workers';

/**
 * Worker process entry: serves the core queue and/or the queues of the Docker nodes named in
 * KEELSON_NODE_IDS. Stateless; run as many as needed.
 */
const env = loadWorkerEnv();
// The SDK logs each bundling step and state change at INFO; warnings and errors are what matter.
// With a metrics port, the SDK's own worker metrics (polls, task latencies, slots) are exported
// by its core on the next port, and served together with Keelson's (see serveMetrics below).
const sdkMetricsAddress = env.KEELSON_WORKER_METRICS_PORT ? `127.0.0.1:${env.KEELSON_WORKER_METRICS_PORT + 1}` : undefined;
Runtime.install({
  logger: new DefaultLogger(env.KEELSON_LOG_LEVEL),
  ...(sdkMetricsAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: sdkMetricsAddress } } } } : {}),
});
const { db, close } = connectDb(env.DATABASE_URL, { max: 5 });
const connection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS });
const docker = new Docker({ socketPath: env.DOCKER_SOCKET });
const base = { connection, namespace: env.TEMPORAL_NAMESPACE, db, keys: env.KEELSON_ENCRYPTION_KEYS, coreTaskQueue: env.KEELSON_CORE_TASK_QUEUE };

const workers: Worker[] = [];
const monitoring = {
  evaluateEveryMs: env.KEELSON_ALERT_EVALUATE_MS,
  retention: { rawRetentionMs: env.KEELSON_METRICS_RAW_HOURS * 3_600_000, rollupRetentionMs: env.KEELSON_METRICS_ROLLUP_DAYS * 86_400_000, bucketMs: 300_000 },
};
if (env.KEELSON_CORE_WORKER) {
  const workflowBundle = env.KEELSON_WORKFLOW_BUNDLE ? { codePath: resolve(env.KEELSON_WORKFLOW_BUNDLE) } : undefined;
  workers.push(
    await createCoreWorker({
      ...base,
      monitoring,
      workflowBundle,
      databaseUrl: env.DATABASE_URL,
      payments: { stripeApiUrl: env.KEELSON_STRIPE_API_URL },
      billing: { dunningDayMs: env.KEELSON_DUNNING_DAY_MS, dunningRecheckMs: env.KEELSON_DUNNING_RECHECK_MS },
      maxCachedWorkflows: env.KEELSON_MAX_CACHED_WORKFLOWS,
      terraform: {
        ...(env.KEELSON_TOFU_BINARY ? { binary: env.KEELSON_TOFU_BINARY } : {}),
        ...(env.KEELSON_TOFU_CLI_CONFIG ? { cliConfigFile: env.KEELSON_TOFU_CLI_CONFIG } : {}),
        workDir: resolve(env.KEELSON_WORK_DIR, 'terraform'),
      },
    }),
  );
  if (env.KEELSON_MONITORING_SCHEDULES) {
    const client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
    await ensureMonitoringSchedules(client, {
      coreTaskQueue: env.KEELSON_CORE_TASK_QUEUE,
      collectEveryMs: env.KEELSON_METRICS_COLLECT_MS,
      evaluateEveryMs: env.KEELSON_ALERT_EVALUATE_MS,
      maintenanceEveryMs: env.KEELSON_METRICS_MAINTENANCE_MS,
    });
  }
}
const proxy = new CaddyProxy({ adminUrl: env.KEELSON_PROXY_ADMIN_URL, listen: env.KEELSON_PROXY_LISTEN, upstreamsDir: env.KEELSON_PROXY_UPSTREAMS_DIR });
const workDir = resolve(env.KEELSON_WORK_DIR);
// Apps' uptime checks go through this host's edge proxy, as their users' requests do.
const listen = env.KEELSON_PROXY_LISTEN[0] ?? ':8080';
const appBaseUrl = `http://${listen.startsWith(':') ? `127.0.0.1${listen}` : listen}`;
for (const nodeId of env.KEELSON_NODE_IDS) workers.push(await createNodeWorker({ ...base, nodeId, docker, workDir, proxy, appBaseUrl }));
if (workers.length === 0) throw new Error('nothing to serve: set KEELSON_CORE_WORKER=true or KEELSON_NODE_IDS');

const health = setInterval(() => {
  for (const nodeId of env.KEELSON_NODE_IDS) {
    void reportNodeHealth(db, docker, nodeId);
    void restoreRoutes({ db, proxy, nodeId, docker });
  }
}, 15_000);

const metricsServer = env.KEELSON_WORKER_METRICS_PORT ? serveMetrics(env.KEELSON_WORKER_METRICS_HOST, env.KEELSON_WORKER_METRICS_PORT) : undefined;

/** `GET /metrics`: Keelson's counters of this process, then the Temporal SDK's worker metrics. */
function serveMetrics(host: string, port: number) {
  collectProcessMetrics();
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    void (async () => {
      const own = await registry.metrics();
      const sdk = sdkMetricsAddress ? await fetch(`http://${sdkMetricsAddress}/metrics`).then((r) => r.text()).catch(() => '') : '';
      res.writeHead(200, { 'content-type': registry.contentType }).end(`${own}\n${sdk}`);
    })().catch(() => res.writeHead(500).end());
  });
  server.listen(port, host);
  return server;
}

console.log(JSON.stringify({ msg: 'workers running', queues: workers.map((w) => w.options.taskQueue) }));
try {
  await Promise.all(workers.map((w) => w.run()));
} finally {
  clearInterval(health);
  metricsServer?.close();
  closeSmtpPools();
  await connection.close();
  await close();
}
