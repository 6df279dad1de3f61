import { FAILURE_CONVERTER_PATH } from '@keelson/common/temporal';
import { bundleWorkflowCode } from '@temporalio/worker';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { connectDb, createScratchDatabase, dropOrphanedScratchDatabases, dropScratchDatabases, migrateDb } from '../db/src/index';
import { WORKFLOW_INTERCEPTOR_MODULES, WORKFLOWS_PATH } from '../workers/src/workers';
import { ADMIN_DATABASE_URL, TEST_DB_KIND, templateDbName, testDbPrefix } from './config';

const root = fileURLToPath(new URL('..', import.meta.url));

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
    templateDb: string;
    testDbPrefix: string;
    /** stripe-mock's base URL (Stripe's bundled fixtures), for the payments tests. */
    stripeApiUrl: string;
  }
}

/**
 * Once per test run: a Temporal dev server (unless TEMPORAL_TEST_ADDRESS names one), a migrated
 * template database that each test file clones, the Docker engine and base images, stripe-mock
 * (unless KEELSON_STRIPE_TEST_URL names one), and one workflow bundle that every test worker loads.
 */
export default async function setup(project: TestProject) {
  execFileSync('bash', [`${root}/scripts/docker.sh`, 'ensure'], { stdio: 'inherit' });

  let temporal: ChildProcess | undefined;
  let temporalAddress = process.env.TEMPORAL_TEST_ADDRESS;
  if (!temporalAddress) {
    const port = 17233;
    temporalAddress = `127.0.0.1:${port}`;
    if (!(await isListening(port))) {
      mkdirSync(`${root}/.cache`, { recursive: true });
      temporal = spawn('bash', [`${root}/scripts/temporal.sh`, 'run', '--port', String(port), '--db', `${root}/.cache/temporal-test.db`], {
        stdio: ['ignore', 'ignore', 'pipe'],
        detached: true,
      });
      // Its output matters until it listens (a first CLI build, a start-up error); after that
      // only its shutdown chatter would follow.
      let listening = false;
      temporal.stderr!.on('data', (chunk: Buffer) => {
        if (!listening) process.stderr.write(chunk);
      });
      await waitFor(() => isListening(port), 900_000, 'Temporal dev server');
      listening = true;
    }
  }

  const stripe = await startStripeMock();

  const templateDb = await createTemplateDatabase();

  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: quietLogger,
  });
  const workflowBundlePath = `${root}/.cache/workflow-bundle.js`;
  mkdirSync(`${root}/.cache`, { recursive: true });
  writeFileSync(workflowBundlePath, code);

  project.provide('temporalAddress', temporalAddress);
  project.provide('workflowBundlePath', workflowBundlePath);
  project.provide('templateDb', templateDb);
  project.provide('testDbPrefix', testDbPrefix(process.pid));
  project.provide('stripeApiUrl', stripe.url);

  return async () => {
    await dropScratchDatabases(ADMIN_DATABASE_URL, TEST_DB_KIND, (name) => name.startsWith(testDbPrefix(process.pid)));
    if (temporal?.pid) process.kill(-temporal.pid, 'SIGTERM');
    if (stripe.child?.pid) process.kill(-stripe.child.pid, 'SIGTERM');
  };
}

/** stripe-mock on 127.0.0.1:12111, built by scripts/stripe-mock.sh; it keeps no state, so one serves every file. */
async function startStripeMock(): Promise<{ url: string; child?: ChildProcess }> {
  if (process.env.KEELSON_STRIPE_TEST_URL) return { url: process.env.KEELSON_STRIPE_TEST_URL };
  const port = 12111;
  const url = `http://127.0.0.1:${port}`;
  if (await isListening(port)) return { url };
  const child = spawn('bash', [`${root}/scripts/stripe-mock.sh`, 'run', '--port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let listening = false;
  child.stderr!.on('data', (chunk: Buffer) => {
    if (!listening) process.stderr.write(chunk);
  });
  await waitFor(() => isListening(port), 300_000, 'stripe-mock');
  listening = true;
  return { url, child };
}

async function createTemplateDatabase(): Promise<string> {
  await dropOrphanedScratchDatabases(ADMIN_DATABASE_URL, TEST_DB_KIND);
  const name = templateDbName(process.pid);
  const handle = connectDb(await createScratchDatabase(ADMIN_DATABASE_URL, name), { max: 1 });
  await migrateDb(handle.db);
  await handle.close();
  return name;
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not come up within ${timeoutMs / 1000}s`);
}

const quietLogger = {
  trace() {},
  debug() {},
  info() {},
  log() {},
  warn: console.warn,
  error: console.error,
};
