/**
 * Everything the benchmark runs against, in this process where it can be: a Temporal dev server
 * (a child process, unless TEMPORAL_ADDRESS names one), a fresh Postgres database, the core
 * worker, and the API served over real HTTP on an ephemeral port.
 */
import { serve } from '@hono/node-server';
import { createApp } from '@keelson/api';
import { generateApiKey } from '@keelson/api/auth/api-keys';
import { API_DB_POOL_SIZE, type AppDeps } from '@keelson/api/deps';
import { runLogHub } from '@keelson/api/services/run-log-hub';
import { markRunAuditSweep, startRunAuditSweeper } from '@keelson/api/services/run-audit';
import { closeApiKeyCache } from '@keelson/api/auth/api-key-cache';
import { connectTemporal } from '@keelson/api/temporal-connection';
import { parseKeyRing } from '@keelson/common/codec';
import { FAILURE_CONVERTER_PATH, keelsonDataConverter } from '@keelson/common/temporal';
import { auditWriter, connectDb, createScratchDatabase, dropOrphanedScratchDatabases, dropScratchDatabases, migrateDb, scratchPrefix, dataKeysFor } from '@keelson/db';
import { createRunLog, createRunLogActivities, type EdgeProxy } from '@keelson/activities';
import { apiKeys, memberships, nodes, tenants, users } from '@keelson/db/schema';
import { createCoreWorker, createNodeWorker, WORKFLOWS_PATH, type TerraformWorkerOptions, type WorkerDeps } from '@keelson/workers/workers';
import Docker from 'dockerode';
import type pg from 'pg';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createConnection, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { readStat } from './cpu';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The dev server the bench starts when TEMPORAL_ADDRESS is unset; not the tests' port (17233). */
const BENCH_TEMPORAL_PORT = 17243;
const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
/** Benchmark databases carry the pid, so leftovers of killed runs can be recognised and dropped. */
/** The bench's scratch database: kind `bench`, named after this process. */
const BENCH_DB_KIND = 'bench';
const benchDbName = `${scratchPrefix(BENCH_DB_KIND)}db`;

export const BENCH_SCOPES = [
  'workflow.read',
  'workflow.start',
  'workflow.payloads',
  'node.read',
  'app.read',
  'app.manage',
  'app.deploy',
  'proxmox.read',
  'proxmox.manage',
  'proxmox.cluster.manage',
];

/** What `POST /api/proxmox/clusters` needs to reach a cluster (or the simulator). */
export interface BenchClusterConnection {
  url: string;
  tokenId: string;
  tokenSecret: string;
  caPem: string;
  defaultTemplateVmid?: number;
}

export interface BenchPlatform {
  /** `http://127.0.0.1:<port>` of the served API. */
  baseUrl: string;
  /** Headers that authenticate as the seeded API key. */
  auth: Record<string, string>;
  tenantId: string;
  /** The actor the API records for the key (`apikey:<id>`); raw starts pass the same. */
  actor: string;
  /** The API's own Temporal client (Keelson's data converter); raw starts use it too. */
  client: Client;
  /**
   * The core task queue of this run: the API starts on it, the worker serves it. Unique per run,
   * so a shared Temporal (TEMPORAL_ADDRESS) with its own `core` worker never takes these runs.
   */
  coreTaskQueue: string;
  /** The API's Postgres pool (for watching its waits). */
  apiPool: pg.Pool;
  /** Start rows the API's background writer has committed, and the inserts they took (decisions 0037, 0041). */
  startRowStats(): { rows: number; inserts: number };
  /** Postgres of the benchmark database, for reading run-log rows and LISTENing directly. */
  dbUrl: string;
  /** The encryption key ring's spec (`KEELSON_ENCRYPTION_KEYS`), for a worker in another process. */
  keySpec: string;
  temporalAddress: string;
  /** What was started for this run and what was reused, for the report. */
  notes: string[];
  /** Registers the local Docker engine as a node served by a worker in this process; returns its id. */
  addDockerNode(proxy: EdgeProxy): Promise<string>;
  /**
   * Adds a Proxmox cluster through the API, as an admin would (its connection is checked first);
   * the core worker reads it from Postgres. Returns the cluster's id.
   */
  addProxmoxCluster(connection: BenchClusterConnection): Promise<string>;
  /**
   * Serves `taskQueue` with a plain SDK worker: the same workflow bundle, only the run-log
   * activities (Keelson's, on the worker's pool), the SDK's default data converter, no sinks or
   * interceptors. Returns a client whose starts it can read (no Keelson codec).
   */
  addPlainWorker(taskQueue: string): Promise<Client>;
  /** Stops and drops everything above, in reverse order; safe to call more than once. */
  close(): Promise<void>;
}

const log = (msg: string) => process.stderr.write(`bench │ ${msg}\n`);

export interface BenchPlatformOptions {
  /** Run the core worker in this process (default). Off: the bench starts its own worker process on `coreTaskQueue`. */
  coreWorker?: boolean;
  /** Extra scopes for the API key (besides BENCH_SCOPES). */
  scopes?: string[];
  /** How the core worker runs OpenTofu (state in the bench database). */
  terraform?: TerraformWorkerOptions;
  /** The in-process core worker's billing clock and Stripe (the API's Stripe too). */
  billing?: WorkerDeps['billing'];
  payments?: WorkerDeps['payments'];
}

export async function startBenchPlatform(options: BenchPlatformOptions = {}): Promise<BenchPlatform> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const notes: string[] = [];
  let closing: Promise<void> | undefined;
  // Idempotent: a signal and the end of the run may both ask.
  const close = () =>
    (closing ??= (async () => {
      for (const fn of cleanups.reverse()) await fn().catch((err: Error) => log(`cleanup: ${err.message}`));
    })());
  try {
    const temporal = await startTemporal(notes);
    cleanups.push(temporal.stop);

    const adminUrl = process.env.BENCH_DATABASE_URL ?? DEFAULT_DATABASE_URL;
    await dropOrphanedScratchDatabases(adminUrl, BENCH_DB_KIND);
    const dbUrl = await createScratchDatabase(adminUrl, benchDbName);
    cleanups.push(() => dropScratchDatabases(adminUrl, BENCH_DB_KIND, (name) => name === benchDbName));

    // Separate pools, as in production where the API and the worker are separate processes.
    const apiDb = connectDb(dbUrl, { max: API_DB_POOL_SIZE });
    cleanups.push(() => apiDb.close());
    const workerDb = connectDb(dbUrl, { max: 10 });
    cleanups.push(() => workerDb.close());
    await migrateDb(apiDb.db);

    const [tenant] = await apiDb.db.insert(tenants).values({ slug: 'bench', name: 'Benchmark' }).returning({ id: tenants.id });
    // A key acts with at most its creator's current rights: it needs a member behind it.
    const [creator] = await apiDb.db
      .insert(users)
      .values({ email: `bench-${randomBytes(4).toString('hex')}@keelson.local`, name: 'bench', passwordHash: 'x' })
      .returning({ id: users.id });
    await apiDb.db.insert(memberships).values({ tenantId: tenant!.id, userId: creator!.id, role: 'owner' });
    const key = generateApiKey();
    const [row] = await apiDb.db
      .insert(apiKeys)
      .values({ tenantId: tenant!.id, name: 'bench', prefix: key.prefix, secretHash: key.secretHash, scopes: [...BENCH_SCOPES, ...(options.scopes ?? [])], createdBy: creator!.id })
      .returning({ id: apiKeys.id });

    const coreTaskQueue = `core-bench-${randomBytes(4).toString('hex')}`;
    const keySpec = `bench:${randomBytes(32).toString('base64')}`;
    const keys = parseKeyRing(keySpec);
    // The API's connection, as api/src/server.ts makes it (decision 0040).
    const connection = await connectTemporal(temporal.address);
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace: 'default', dataConverter: keelsonDataConverter(keys, dataKeysFor(apiDb.db, keys)) });

    const native = await NativeConnection.connect({ address: temporal.address });
    cleanups.push(() => native.close());
    // The workflow bundle is made once, on first need (the core worker, or a plain worker).
    let bundle: Promise<string> | undefined;
    const workflowCode = () => {
      if (!bundle) {
        log('bundling workflows…');
        bundle = bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, failureConverterPath: FAILURE_CONVERTER_PATH, logger: quietLogger }).then((b) => b.code);
      }
      return bundle;
    };
    if (options.coreWorker !== false) {
      const code = await workflowCode();
      const worker = await createCoreWorker({ connection: native, namespace: 'default', db: workerDb.db, keys, coreTaskQueue, workflowBundle: { code }, terraform: options.terraform, billing: options.billing, payments: options.payments, databaseUrl: dbUrl });
      const running = worker.run();
      cleanups.push(() => stopWorker(worker, running));
    }

    const deps: AppDeps = {
      db: apiDb.db,
      pool: apiDb.pool,
      temporal: client,
      keys,
      config: { namespace: 'default', coreTaskQueue, cookieSecure: false, codecCorsOrigins: [], temporalUiUrl: 'http://localhost:8233', stripeApiUrl: options.payments?.stripeApiUrl },
    };
    const app = createApp(deps);
    // As every API process does (api/src/server.ts, decision 0037): the sweep that writes start
    // rows a dead process left unwritten runs beside the starts, so its cost is in the figures.
    await markRunAuditSweep(deps);
    const runAuditSweeper = startRunAuditSweeper(deps);
    cleanups.push(() => runAuditSweeper.stop());
    const server = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s as Server)) as Server;
    });
    cleanups.push(() => runLogHub(apiDb.pool).close());
    cleanups.push(() => closeApiKeyCache(apiDb.db));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const { port } = server.address() as AddressInfo;

    return {
      baseUrl: `http://127.0.0.1:${port}`,
      auth: { authorization: `Bearer ${key.key}` },
      tenantId: tenant!.id,
      actor: `apikey:${row!.id}`,
      client,
      coreTaskQueue,
      apiPool: apiDb.pool,
      startRowStats: () => ({ ...auditWriter(apiDb.db, 'background').stats }),
      dbUrl,
      keySpec,
      temporalAddress: temporal.address,
      notes,
      close,
      async addDockerNode(proxy) {
        const [node] = await workerDb.db.insert(nodes).values({ tenantId: tenant!.id, name: `bench-${randomBytes(3).toString('hex')}`, endpoint: 'unix:///var/run/docker.sock' }).returning({ id: nodes.id });
        const nodeWorker = await createNodeWorker({
          connection: native,
          namespace: 'default',
          db: workerDb.db,
          keys,
          nodeId: node!.id,
          docker: new Docker({ socketPath: '/var/run/docker.sock' }),
          workDir: await mkdtemp(join(tmpdir(), 'keelson-bench-work-')),
          proxy,
        });
        const nodeRunning = nodeWorker.run();
        cleanups.push(() => stopWorker(nodeWorker, nodeRunning));
        return node!.id;
      },
      async addPlainWorker(taskQueue) {
        const plain = await Worker.create({
          connection: native,
          namespace: 'default',
          taskQueue,
          workflowBundle: { code: await workflowCode() },
          activities: createRunLogActivities({ runLog: createRunLog(workerDb.db) }),
        });
        const plainRunning = plain.run();
        cleanups.push(() => stopWorker(plain, plainRunning));
        return new Client({ connection, namespace: 'default' });
      },
      async addProxmoxCluster(connection) {
        const res = await fetch(`http://127.0.0.1:${port}/api/proxmox/clusters`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name: `bench-${randomBytes(3).toString('hex')}`, ...connection }),
        });
        if (res.status !== 201) throw new Error(`POST /api/proxmox/clusters: ${res.status} ${await res.text()}`);
        return ((await res.json()) as { id: string }).id;
      },
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Terminates every run matching a visibility query, with one batch operation on the server. */
export async function terminateAll(client: Client, query: string): Promise<void> {
  await client.workflowService.startBatchOperation({
    namespace: 'default',
    jobId: `bench-terminate-${randomBytes(6).toString('hex')}`,
    visibilityQuery: query,
    reason: 'end of the benchmark',
    terminationOperation: { identity: 'bench' },
  });
}

async function stopWorker(worker: Worker, running: Promise<void>) {
  if (worker.getState() === 'RUNNING') worker.shutdown();
  await running;
}

async function startTemporal(notes: string[]): Promise<{ address: string; stop: () => Promise<void> }> {
  const external = process.env.TEMPORAL_ADDRESS;
  if (external) {
    notes.push(`Temporal: ${external} (TEMPORAL_ADDRESS)`);
    return { address: external, stop: async () => {} };
  }
  const address = `127.0.0.1:${BENCH_TEMPORAL_PORT}`;
  if (await isListening(BENCH_TEMPORAL_PORT)) {
    // Most likely the dev server of an earlier bench that was killed before it could stop it.
    notes.push(`Temporal: reused what already listens on ${address} (not started, not stopped by this run)`);
    return { address, stop: async () => {} };
  }
  const firstBuild = !existsSync(`${root}.tools/bin/temporal.version`);
  log(firstBuild ? 'starting the Temporal dev server (building the CLI first: a few minutes)…' : 'starting the Temporal dev server…');
  const child = spawn('bash', [`${root}scripts/temporal.sh`, 'run', '--port', String(BENCH_TEMPORAL_PORT), '--db', 'memory'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true, // its own process group, so stopping it also stops the server that bash execs
  });
  // Until it listens, its output (the CLI build, start-up errors) is shown; afterwards only kept,
  // to explain an unexpected exit: its warnings while shutting down are expected noise.
  let ready = false;
  let stopping = false;
  let tail = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    if (!ready) process.stderr.write(chunk);
    else tail = (tail + chunk).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      if (ready && !stopping) log(`the Temporal dev server exited (code ${code}) during the run; its last output:\n${tail}`);
      resolve(code);
    }),
  );
  const stop = () => {
    stopping = true;
    return stopChild(child, exited);
  };
  try {
    await waitForPort(BENCH_TEMPORAL_PORT, firstBuild ? 900_000 : 90_000, exited);
    ready = true;
  } catch (err) {
    await stop();
    throw err;
  }
  notes.push(`Temporal: in-memory dev server started on ${address} (fresh, nothing on disk)`);
  return { address, stop };
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>) {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  process.kill(-child.pid, 'SIGTERM');
  const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function waitForPort(port: number, timeoutMs: number, exited: Promise<number | null>) {
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (exitCode !== undefined) throw new Error(`the Temporal dev server exited (code ${exitCode}) before it listened on ${port}`);
    if (await isListening(port)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the Temporal dev server did not listen on ${port} within ${timeoutMs / 1000}s`);
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

const quietLogger = {
  trace() {},
  debug() {},
  info() {},
  log() {},
  warn: console.warn,
  error: console.error,
};

/** CPU time (user + system, ms) and resident memory (current and peak, MiB) of a process, from /proc. */
export function processUsage(pid: number): { cpuMs: number; rssMiB: number; peakRssMiB: number } {
  const cpuMs = readStat(pid)?.cpuMs ?? NaN;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? NaN);
  return { cpuMs, rssMiB: kb('VmRSS') / 1024, peakRssMiB: kb('VmHWM') / 1024 };
}

export interface WorkerProcess {
  pid: number;
  /** Resolves once the worker says it runs; rejects if it exits first. */
  ready: Promise<void>;
  /** SIGTERM, then SIGKILL after 10 s; harmless when it already exited. */
  stop(): Promise<void>;
}

/**
 * `workers/src/main.ts` in a process of its own on this platform's database, Temporal, keys and
 * core queue (as production runs it), so its CPU time and memory are its own. `env` adds to that;
 * `nodeArgs` go to node (`--cpu-prof`, which NODE_OPTIONS does not take).
 */
export function spawnWorkerProcess(p: BenchPlatform, env: Record<string, string> = {}, nodeArgs: string[] = []): WorkerProcess {
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'workers/src/main.ts'], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: p.dbUrl,
      TEMPORAL_ADDRESS: p.temporalAddress,
      KEELSON_ENCRYPTION_KEYS: p.keySpec,
      KEELSON_CORE_TASK_QUEUE: p.coreTaskQueue,
      KEELSON_MONITORING_SCHEDULES: 'false',
      KEELSON_LOG_LEVEL: 'WARN',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      output = (output + c.toString()).slice(-4000);
      if (output.includes('workers running')) resolve();
    });
    child.stderr!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
    child.once('exit', (code) => reject(new Error(`the worker exited (${code}) before running:\n${output}`)));
  });
  return {
    pid: child.pid!,
    ready,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
