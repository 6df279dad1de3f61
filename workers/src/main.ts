import { connectDb } from '@keelson/db';
import { reportNodeHealth } from '@keelson/activities';
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
Runtime.install({ logger: new DefaultLogger(env.KEELSON_LOG_LEVEL) });
const { db, close } = connectDb(env.DATABASE_URL, { max: 5 });
const connection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS });
const docker = new Docker({ socketPath: env.DOCKER_SOCKET });
const base = { connection, namespace: env.TEMPORAL_NAMESPACE, db, keys: env.KEELSON_ENCRYPTION_KEYS, coreTaskQueue: env.KEELSON_CORE_TASK_QUEUE };

const workers: Worker[] = [];
if (env.KEELSON_CORE_WORKER) workers.push(await createCoreWorker(base));
const proxy = new CaddyProxy({ adminUrl: env.KEELSON_PROXY_ADMIN_URL, listen: env.KEELSON_PROXY_LISTEN });
const workDir = resolve(env.KEELSON_WORK_DIR);
for (const nodeId of env.KEELSON_NODE_IDS) workers.push(await createNodeWorker({ ...base, nodeId, docker, workDir, proxy }));
if (workers.length === 0) throw new Error('nothing to serve: set KEELSON_CORE_WORKER=true or KEELSON_NODE_IDS');

const health = setInterval(() => {
  for (const nodeId of env.KEELSON_NODE_IDS) {
    void reportNodeHealth(db, docker, nodeId);
    void restoreRoutes({ db, proxy, nodeId });
  }
}, 15_000);

console.log(JSON.stringify({ msg: 'workers running', queues: workers.map((w) => w.options.taskQueue) }));
try {
  await Promise.all(workers.map((w) => w.run()));
} finally {
  clearInterval(health);
  await connection.close();
  await close();
}
