/**
 * The API process: validated settings, Postgres, a Temporal client with Keelson's payload codec
 * (on the SDK's native connection, decision 0040),
 * and the Hono app served over HTTP. Stateless; run as many as needed behind a load balancer.
 */
import { serve } from '@hono/node-server';
import { keelsonDataConverter } from '@keelson/common/temporal';
import { connectDb, dataKeysFor, drainAuditWriters } from '@keelson/db';
import { Client } from '@temporalio/client';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from './app';
import { API_DB_POOL_SIZE } from './deps';
import { loadApiEnv } from './env';
import { runLogHub } from './services/run-log-hub';
import { closeApiKeyCache } from './auth/api-key-cache';
import { startStripeHandOffDispatcher } from './services/billing/stripe-hand-off';
import { markRunAuditSweep, startRunAuditSweeper } from './services/run-audit';
import { connectTemporal, installTemporalRuntime } from './temporal-connection';

/** How long open requests (SSE streams, long polls) get to finish before they are cut. */
const SHUTDOWN_GRACE_MS = 5_000;

const log = (fields: Record<string, unknown>) => console.log(JSON.stringify({ time: new Date().toISOString(), ...fields }));

const env = loadApiEnv();
const database = connectDb(env.DATABASE_URL, { max: API_DB_POOL_SIZE });
installTemporalRuntime(log);
const connection = await connectTemporal(env.TEMPORAL_ADDRESS);
const temporal = new Client({
  connection,
  namespace: env.TEMPORAL_NAMESPACE,
  dataConverter: keelsonDataConverter(env.KEELSON_ENCRYPTION_KEYS, dataKeysFor(database.db, env.KEELSON_ENCRYPTION_KEYS)),
});

const deps = {
  db: database.db,
  pool: database.pool,
  temporal,
  keys: env.KEELSON_ENCRYPTION_KEYS,
  config: {
    namespace: env.TEMPORAL_NAMESPACE,
    coreTaskQueue: env.KEELSON_CORE_TASK_QUEUE,
    cookieSecure: env.COOKIE_SECURE,
    codecCorsOrigins: env.CODEC_CORS_ORIGINS,
    trustedProxies: env.TRUSTED_PROXIES,
    temporalUiUrl: env.TEMPORAL_UI_URL,
    metricsToken: env.KEELSON_METRICS_TOKEN,
    stripeApiUrl: env.KEELSON_STRIPE_API_URL,
    paymentsReconcileEveryMs: env.KEELSON_PAYMENTS_RECONCILE_MS,
  },
};
const app = createApp(deps);
// Stripe events recorded but not handed to their run (a failed hand-over, a process that died
// after answering): handed over from here, by every API process (decision 0032).
const stripeHandOff = startStripeHandOffDispatcher(deps, { onError: (err) => log({ level: 'warn', msg: 'stripe hand-off sweep failed', error: (err as Error).message }) });

// Start rows of runs whose process died before writing them are written from the runs' memos
// (decision 0037); the sweep's record exists before this process answers its first start.
await markRunAuditSweep(deps);
const runAuditSweeper = startRunAuditSweeper(deps, {
  everyMs: env.KEELSON_RUN_AUDIT_SWEEP_MS,
  marginMs: env.KEELSON_RUN_AUDIT_MARGIN_MS,
  onSwept: (r) => {
    if (r.written || r.unreadable.length) log({ level: 'warn', msg: 'run audit sweep wrote start rows', written: r.written, examined: r.examined, unreadable: r.unreadable });
  },
  onError: (err) => log({ level: 'warn', msg: 'run audit sweep failed', error: (err as Error).message }),
});

const server = serve({ fetch: app.fetch, hostname: env.HOST, port: env.PORT }, (info: AddressInfo) => {
  const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
  log({ level: 'info', msg: 'api listening', url: `http://${host}:${info.port}`, temporal: env.TEMPORAL_ADDRESS, namespace: env.TEMPORAL_NAMESPACE });
}) as Server;
app.injectWebSocket(server);
server.once('error', (err) => {
  log({ level: 'error', msg: 'api server failed', error: err.message });
  process.exit(1);
});

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log({ level: 'info', msg: 'api shutting down', signal });
  // A second signal, or a shutdown that hangs, ends the process anyway.
  setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS + 5_000).unref();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  // Upgraded sockets are no longer the HTTP server's to cut: end the terminals (and their shells).
  await app.closeTerminals();
  const cut = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
  await closed;
  clearTimeout(cut);
  await stripeHandOff.stop();
  await runAuditSweeper.stop();
  await runLogHub(database.pool).close();
  await closeApiKeyCache(database.db);
  // Start rows still waiting for company go out now (the sweep would write them, later).
  await drainAuditWriters(database.db);
  await Promise.allSettled([connection.close(), database.close()]);
  log({ level: 'info', msg: 'api stopped' });
  process.exit(0);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    void shutdown(signal);
  });
}
