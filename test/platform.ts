import { parseKeyRing, type KeyRing } from '@keelson/common/codec';
import type { EdgeProxy } from '@keelson/activities';
import type { Role } from '@keelson/common/permissions';
import { keelsonDataConverter } from '@keelson/common/temporal';
import { connectDb, dataKeysFor, createScratchDatabase, dropScratchDatabases, hashPassword, type DbHandle } from '@keelson/db';
import { memberships, nodes, tenants, users } from '@keelson/db/schema';
import { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import Docker from 'dockerode';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { inject } from 'vitest';
import { createApp } from '../api/src/app';
import { generateApiKey } from '../api/src/auth/api-keys';
import { createSession, SESSION_COOKIE } from '../api/src/auth/sessions';
import { runLogHub } from '../api/src/services/run-log-hub';
import { closeApiKeyCache } from '../api/src/auth/api-key-cache';
import type { AppDeps } from '../api/src/deps';
import { connectTemporal } from '../api/src/temporal-connection';
import { apiKeys } from '../db/schema/tenancy';
import { createCoreWorker, createNodeWorker, type MonitoringWorkerOptions, type TerraformWorkerOptions } from '../workers/src/workers';
import { ADMIN_DATABASE_URL, TEST_DB_KIND } from './config';

// Worker state changes and workflow failures under test are expected; keep the output readable.
try {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
} catch {
  // already installed in this worker process
}

/** The proxy of a node registered without one: deploys that reach it fail, saying so. */
const NO_PROXY: EdgeProxy = {
  ensureServer: () => Promise.reject(new Error('this test node has no edge proxy')),
  setRoute: () => Promise.reject(new Error('this test node has no edge proxy')),
  getRoute: () => Promise.reject(new Error('this test node has no edge proxy')),
  removeRoute: () => Promise.reject(new Error('this test node has no edge proxy')),
  setStaticRoute: () => Promise.reject(new Error('this test node has no edge proxy')),
};

/** KEELSON_ENCRYPTION_KEYS for worker processes a test spawns. */
export const TEST_KEY_SPEC = `test1:${Buffer.alloc(32, 7).toString('base64')}`;
export const TEST_KEYS: KeyRing = parseKeyRing(TEST_KEY_SPEC);

/** A database of its own for one test file, cloned from the migrated template. */
export async function createTestDb(): Promise<DbHandle & { url: string; drop(): Promise<void> }> {
  const name = `${inject('testDbPrefix')}${randomBytes(6).toString('hex')}`;
  const url = await createScratchDatabase(ADMIN_DATABASE_URL, name, inject('templateDb'));
  const handle = connectDb(url, { max: 10 });
  return {
    ...handle,
    url,
    async drop() {
      await handle.close();
      await dropScratchDatabases(ADMIN_DATABASE_URL, TEST_DB_KIND, (n) => n === name);
    },
  };
}

function externalDb(url: string): DbHandle & { url: string; drop(): Promise<void> } {
  const handle = connectDb(url, { max: 10 });
  return { ...handle, url, drop: () => handle.close() };
}

export interface SignedIn {
  userId: string;
  tenantId: string;
  email: string;
  /** Cookie and CSRF headers for state-changing requests. */
  headers: Record<string, string>;
  csrfToken: string;
  cookie: string;
}

export interface TestPlatform {
  db: DbHandle['db'];
  pool: pg.Pool;
  dbUrl: string;
  /** This platform's core task queue, for worker processes a test spawns itself. */
  coreTaskQueue: string;
  temporal: Client;
  deps: AppDeps;
  app: ReturnType<typeof createApp>;
  docker: Docker;
  /** Calls the API in-process; `body` objects are sent as JSON. */
  request(path: string, init?: { method?: string; headers?: Record<string, string>; body?: unknown }): Promise<Response>;
  createTenant(slug?: string): Promise<{ id: string; slug: string }>;
  createUser(opts: { tenantId: string; role: Role; password?: string; email?: string }): Promise<{ id: string; email: string; password: string }>;
  signIn(opts: { tenantId: string; role: Role }): Promise<SignedIn>;
  /** A key made by a new member of the tenant with `creatorRole` (owner by default). */
  createApiKey(opts: { tenantId: string; scopes: string[]; expiresAt?: Date; creatorRole?: Role }): Promise<string>;
  /**
   * Registers the local Docker engine (or `docker` at `endpoint`) as a node of the tenant and
   * serves its task queue. Deploys on it need `proxy` (e.g. a CaddyProxy on a Caddy from
   * test/caddy.ts); without one they fail.
   */
  addDockerNode(tenantId: string, name?: string, opts?: { proxy?: EdgeProxy; docker?: Docker; endpoint?: string }): Promise<{ id: string }>;
  /** `monitoring`: the core worker's monitoring settings (intervals scaled down for tests). */
  /** `payments.stripeApiUrl` defaults to `deps.config.stripeApiUrl` (the run's stripe-mock, unless a test points it elsewhere). */
  startCoreWorker(opts?: { monitoring?: MonitoringWorkerOptions; billing?: { now?: () => Date; dunningDayMs?: number }; terraform?: TerraformWorkerOptions; payments?: { stripeApiUrl?: string } }): Promise<void>;
  stopWorkers(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The real API, real Postgres, real Temporal and (on request) real workers, for one test file.
 * `databaseUrl` points it at a database the test manages itself (e.g. embedded PGlite, or a
 * private server it restarts), `temporalAddress` at a Temporal server of its own.
 */
export async function createTestPlatform(opts: { databaseUrl?: string; temporalAddress?: string } = {}): Promise<TestPlatform> {
  const database = opts.databaseUrl ? externalDb(opts.databaseUrl) : await createTestDb();
  const address = opts.temporalAddress ?? inject('temporalAddress');
  // The API's connection, as api/src/server.ts makes it (decision 0040).
  const connection = await connectTemporal(address);
  const temporal = new Client({ connection, namespace: 'default', dataConverter: keelsonDataConverter(TEST_KEYS, dataKeysFor(database.db, TEST_KEYS)) });
  // Test files share one Temporal namespace; a queue of their own keeps their workers apart.
  const coreTaskQueue = `core-${randomBytes(4).toString('hex')}`;
  const deps: AppDeps = {
    db: database.db,
    pool: database.pool,
    temporal,
    keys: TEST_KEYS,
    config: { namespace: 'default', coreTaskQueue, cookieSecure: false, codecCorsOrigins: ['http://localhost:8233'], temporalUiUrl: 'http://localhost:8233', stripeApiUrl: inject('stripeApiUrl') },
  };
  const app = createApp(deps);
  const docker = new Docker({ socketPath: '/var/run/docker.sock' });
  let native: NativeConnection | undefined;
  const workers: Array<{ worker: Worker; done: Promise<void> }> = [];

  async function nativeConnection() {
    native ??= await NativeConnection.connect({ address });
    return native;
  }
  function run(worker: Worker) {
    workers.push({ worker, done: worker.run() });
  }

  const platform: TestPlatform = {
    db: database.db,
    pool: database.pool,
    dbUrl: database.url,
    coreTaskQueue,
    temporal,
    deps,
    app,
    docker,
    async request(path, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      let body: string | undefined;
      if (init.body !== undefined) {
        body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
        headers['content-type'] ??= 'application/json';
      }
      return app.request(path, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body });
    },
    async createTenant(slug = `org-${randomBytes(4).toString('hex')}`) {
      const [t] = await database.db.insert(tenants).values({ slug, name: slug }).returning({ id: tenants.id });
      return { id: t!.id, slug };
    },
    async createUser({ tenantId, role, password = 'correct horse battery', email = `${role}-${randomBytes(4).toString('hex')}@example.test` }) {
      const [u] = await database.db
        .insert(users)
        .values({ email, name: role, passwordHash: await hashPassword(password) })
        .returning({ id: users.id });
      await database.db.insert(memberships).values({ tenantId, userId: u!.id, role });
      return { id: u!.id, email, password };
    },
    async signIn({ tenantId, role }) {
      const user = await platform.createUser({ tenantId, role });
      const s = await createSession(database.db, { userId: user.id, tenantId, twoFactorVerified: true, ip: null, userAgent: 'vitest' });
      const cookie = `${SESSION_COOKIE}=${s.token}`;
      return { userId: user.id, tenantId, email: user.email, csrfToken: s.csrfToken, cookie, headers: { cookie, 'x-csrf-token': s.csrfToken } };
    },
    async createApiKey({ tenantId, scopes, expiresAt, creatorRole = 'owner' }) {
      const creator = await platform.createUser({ tenantId, role: creatorRole });
      const k = generateApiKey();
      await database.db.insert(apiKeys).values({ tenantId, name: 'test', prefix: k.prefix, secretHash: k.secretHash, scopes, expiresAt, createdBy: creator.id });
      return k.key;
    },
    async addDockerNode(tenantId, name = `local-${randomBytes(3).toString('hex')}`, { proxy = NO_PROXY, docker: engine = docker, endpoint = 'unix:///var/run/docker.sock' } = {}) {
      const [n] = await database.db
        .insert(nodes)
        .values({ tenantId, name, endpoint })
        .returning({ id: nodes.id });
      run(
        await createNodeWorker({
          connection: await nativeConnection(),
          namespace: 'default',
          db: database.db,
          keys: TEST_KEYS,
          nodeId: n!.id,
          docker: engine,
          workDir: await mkdtemp(join(tmpdir(), 'keelson-node-')),
          proxy,
        }),
      );
      return { id: n!.id };
    },
    async startCoreWorker(opts = {}) {
      run(
        await createCoreWorker({
          connection: await nativeConnection(),
          namespace: 'default',
          db: database.db,
          keys: TEST_KEYS,
          coreTaskQueue,
          workflowBundle: { codePath: inject('workflowBundlePath') },
          monitoring: opts.monitoring,
          billing: opts.billing,
          terraform: opts.terraform,
          payments: opts.payments ?? { stripeApiUrl: deps.config.stripeApiUrl },
          databaseUrl: database.url,
        }),
      );
    },
    async stopWorkers() {
      for (const { worker } of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
      await Promise.all(workers.map((w) => w.done));
      workers.length = 0;
    },
    async close() {
      await platform.stopWorkers();
      await runLogHub(database.pool).close();
      await closeApiKeyCache(database.db);
      await native?.close();
      await connection.close();
      await database.drop();
    },
  };
  return platform;
}

export const uniqueId = () => randomUUID().slice(0, 8);
