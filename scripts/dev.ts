/**
 * `npm run dev`: the whole platform on one machine, with embedded defaults, in one command.
 *
 *   Temporal dev server   scripts/temporal.sh run (gRPC :7233, its UI :8233), unless TEMPORAL_ADDRESS
 *   Postgres              DATABASE_URL, else PGlite in .data/pglite served on 127.0.0.1:5433 by this process
 *   schema and seed       migrations, the first organization and its admin
 *   encryption key        KEELSON_ENCRYPTION_KEYS, else one generated once into .data/encryption-keys
 *   local Docker node     registered as `local` when a Docker engine answers on /var/run/docker.sock
 *   edge proxy            Caddy (admin on 127.0.0.1:2019) serving deployed apps on :8080, when installed
 *   Proxmox simulator     tools/proxmox-sim on :8006 with Docker-backed guests, registered as the cluster
 *                         `simulator` (scripts/dev-simulator.ts), unless KEELSON_PROXMOX_SIMULATOR=off
 *   stripe-mock           Stripe's API mock on 127.0.0.1:12111 (scripts/stripe-mock.sh), where card payments
 *                         go, unless KEELSON_STRIPE_API_URL names a Stripe API (https://api.stripe.com)
 *   worker, API, web      child processes, their output prefixed with their names
 *
 * Ctrl-C (or SIGTERM) stops everything in order. If any child exits on its own, the rest are
 * stopped and this process exits non-zero, naming it.
 *
 * Settings (all optional): TEMPORAL_ADDRESS, TEMPORAL_UI_URL, DATABASE_URL, KEELSON_ENCRYPTION_KEYS,
 * API_PORT (3000), WEB_PORT (5173), TEMPORAL_PORT (7233), TEMPORAL_UI_PORT (8233), PGLITE_PORT (5433),
 * APPS_PORT (8080), CADDY_ADMIN_PORT (2019), PROXMOX_SIM_PORT (8006), KEELSON_PROXMOX_SIMULATOR (on|off),
 * PROXMOX_SIM_TIME_SCALE (1), STRIPE_MOCK_PORT (12111), KEELSON_STRIPE_API_URL,
 * KEELSON_ADMIN_EMAIL, KEELSON_ADMIN_PASSWORD, KEELSON_ORG_SLUG, KEELSON_ORG_NAME, DOCKER_SOCKET.
 */
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseKeyRing } from '@keelson/common/codec';
import { connectDb, migrateDb, seed } from '@keelson/db';
import { startEmbeddedPostgres } from '@keelson/db/embedded';
import { loadSeedEnv, seedOptionsFrom } from '@keelson/db/env';
import { nodes } from '@keelson/db/schema';
import Docker from 'dockerode';
import { sql } from 'drizzle-orm';
import {
  guestSubnet,
  registerSimulatorCluster,
  SIMULATOR_CLUSTER_NAME,
  simulatorArgs,
  simulatorUnavailable,
  type SimulatorHello,
} from './dev-simulator';

const root = fileURLToPath(new URL('..', import.meta.url));
const dataDir = join(root, '.data');
const tsx = join(root, 'node_modules/.bin/tsx');


// ---------------------------------------------------------------------------------------------
// Output

const tty = process.stdout.isTTY;
const paint = (code: number, s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
const colors: Record<string, number> = { dev: 33, temporal: 36, caddy: 36, 'pve-sim': 36, 'stripe-mock': 36, worker: 35, api: 32, web: 34, 'web-build': 34 };
/** Lines a child prints that hold secrets (the simulator's hello carries its token secret). */
const hiddenLines: Record<string, RegExp> = { 'pve-sim': /^\{"url":/ };
const width = Math.max(...Object.keys(colors).map((k) => k.length));
const prefix = (name: string) => paint(colors[name] ?? 37, `${name.padEnd(width)} │`);
const say = (msg: string) => console.log(`${prefix('dev')} ${msg}`);

function fail(msg: string): never {
  console.error(`${prefix('dev')} ${paint(31, msg)}`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// Settings

const num = (name: string, fallback: number) => {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) fail(`${name} must be a port number, got "${v}"`);
  return n;
};
const ports = {
  api: num('API_PORT', 3000),
  web: num('WEB_PORT', 5173),
  temporal: num('TEMPORAL_PORT', 7233),
  temporalUi: num('TEMPORAL_UI_PORT', 8233),
  pglite: num('PGLITE_PORT', 5433),
  apps: num('APPS_PORT', 8080),
  caddyAdmin: num('CADDY_ADMIN_PORT', 2019),
  pveSim: num('PROXMOX_SIM_PORT', 8006),
  stripeMock: num('STRIPE_MOCK_PORT', 12111),
};
const dockerSocket = process.env.DOCKER_SOCKET || '/var/run/docker.sock';
const simulatorSetting = (process.env.KEELSON_PROXMOX_SIMULATOR ?? 'on').toLowerCase();
if (!['on', 'off', 'true', 'false', '1', '0'].includes(simulatorSetting)) fail(`KEELSON_PROXMOX_SIMULATOR must be on or off, got "${process.env.KEELSON_PROXMOX_SIMULATOR}"`);
const simulatorWanted = ['on', 'true', '1'].includes(simulatorSetting);
const simulatorTimeScale = Number(process.env.PROXMOX_SIM_TIME_SCALE ?? '1');
if (!(simulatorTimeScale > 0)) fail(`PROXMOX_SIM_TIME_SCALE must be a positive number, got "${process.env.PROXMOX_SIM_TIME_SCALE}"`);

// ---------------------------------------------------------------------------------------------
// Children

interface Child {
  name: string;
  proc: ChildProcess;
  exited: Promise<number | null>;
  /** Resolves with the first output line that matches, for readiness checks. */
  waitForLine(match: RegExp): Promise<string>;
}

const children: Child[] = [];
let stopping = false;

function start(name: string, command: string, args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(command, args, {
    cwd: root,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: Ctrl-C reaches only this process, which stops the children in order.
    detached: true,
  });
  const watchers: Array<{ match: RegExp; resolve: (line: string) => void }> = [];
  for (const stream of [proc.stdout!, proc.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      // Temporal's dev server reports its own pollers losing the connection as it stops: noise.
      if (!(stopping && name === 'temporal') && !hiddenLines[name]?.test(line)) console.log(`${prefix(name)} ${line}`);
      for (const w of watchers.splice(0)) {
        if (w.match.test(line)) w.resolve(line);
        else watchers.push(w);
      }
    });
  }
  const exited = new Promise<number | null>((resolve) => {
    proc.once('error', (err) => {
      console.error(`${prefix(name)} ${paint(31, `could not start: ${err.message}`)}`);
      resolve(127);
    });
    proc.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : null)));
  });
  const child: Child = {
    name,
    proc,
    exited,
    waitForLine: (match) => new Promise((resolve) => watchers.push({ match, resolve })),
  };
  return child;
}

/** Children write to a pipe: keep their colors only when ours go to a terminal. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  if (tty) {
    env.FORCE_COLOR ??= '1';
  } else {
    delete env.FORCE_COLOR;
    env.NO_COLOR = '1';
  }
  return env;
}

/** A long-running child: its exit, unless we are stopping, takes everything down. */
function service(name: string, command: string, args: string[], env: Record<string, string> = {}): Child {
  const child = start(name, command, args, env);
  children.push(child);
  void child.exited.then((code) => {
    if (stopping) return;
    console.error(`${prefix('dev')} ${paint(31, `${name} exited unexpectedly (code ${code}); stopping everything`)}`);
    void shutdown(1, name);
  });
  return child;
}

async function stopChild(child: Child, timeoutMs = 15_000) {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null || !child.proc.pid) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.proc.pid!, sig);
    } catch {
      /* already gone */
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => {
    console.error(`${prefix('dev')} ${child.name} did not stop within ${timeoutMs / 1000}s; killing it`);
    signal('SIGKILL');
  }, timeoutMs);
  await child.exited;
  clearTimeout(timer);
}

const cleanups: Array<() => Promise<void>> = [];

async function shutdown(code: number, culprit?: string): Promise<never> {
  if (!stopping) {
    stopping = true;
    say('stopping…');
    // Front to back: the web app, the API, the worker, then Temporal, then Postgres.
    for (const name of ['web', 'web-build', 'api', 'worker', 'caddy', 'pve-sim', 'stripe-mock', 'temporal']) {
      const child = children.find((c) => c.name === name);
      if (child) await stopChild(child);
    }
    await Promise.all(children.map((c) => stopChild(c)));
    for (const cleanup of cleanups.reverse()) await cleanup().catch((e: Error) => say(`cleanup failed: ${e.message}`));
    say(culprit ? paint(31, `stopped because ${culprit} exited`) : 'stopped');
  }
  process.exit(code);
}

let interrupts = 0;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (++interrupts > 1) {
      // A second Ctrl-C: do not wait any longer.
      for (const c of children) if (c.proc.pid) try { process.kill(-c.proc.pid, 'SIGKILL'); } catch { /* gone */ }
      process.exit(130);
    }
    void shutdown(sig === 'SIGTERM' ? 0 : 130);
  });
}

/** Any failure while bringing things up stops what has started, then exits non-zero. */
async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    console.error(`${prefix('dev')} ${paint(31, `${what} failed: ${(err as Error).message}`)}`);
    return shutdown(1, what);
  }
}

// ---------------------------------------------------------------------------------------------
// Probes

function isListening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    socket.setTimeout(1000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
}

function httpGet(opts: { url?: string; socketPath?: string; path?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const target = opts.url ? new URL(opts.url) : undefined;
    const req = request(
      target
        ? { host: target.hostname, port: target.port, path: target.pathname + target.search, timeout: 3000 }
        : { socketPath: opts.socketPath, path: opts.path, timeout: 3000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', reject);
    req.end();
  });
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, died?: Child) {
  const until = Date.now() + timeoutMs;
  let dead = false;
  void died?.exited.then(() => (dead = true));
  while (Date.now() < until) {
    if (stopping) await new Promise(() => {}); // shutdown() exits the process
    if (dead) throw new Error(`${died!.name} exited`);
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${what} not ready within ${Math.round(timeoutMs / 1000)}s`);
}

async function dockerAnswers(): Promise<boolean> {
  if (!existsSync(dockerSocket)) return false;
  try {
    const res = await httpGet({ socketPath: dockerSocket, path: '/_ping' });
    return res.status === 200;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Pieces

function encryptionKeys(): { spec: string; source: string } {
  if (process.env.KEELSON_ENCRYPTION_KEYS) return { spec: process.env.KEELSON_ENCRYPTION_KEYS, source: 'KEELSON_ENCRYPTION_KEYS' };
  const file = join(dataDir, 'encryption-keys');
  if (!existsSync(file)) {
    writeFileSync(file, `k1:${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    say(`generated an encryption key in ${file} — keep it: workflow histories and stored secrets need it`);
  }
  chmodSync(file, 0o600);
  const spec = readFileSync(file, 'utf8').trim();
  parseKeyRing(spec); // a malformed file stops here, with the reason
  return { spec, source: '.data/encryption-keys' };
}

/** Newest modification time under dir, skipping generated folders. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (['node_modules', 'build', '.svelte-kit', 'test-results'].includes(entry.name)) continue;
    const path = join(dir, entry.name);
    const mtime = entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs;
    if (mtime > newest) newest = mtime;
  }
  return newest;
}

type WebPlan = { kind: 'build-and-run' } | { kind: 'run' } | { kind: 'none'; why: string };

function planWeb(): WebPlan {
  const webDir = join(root, 'web');
  const pkgPath = join(webDir, 'package.json');
  const built = join(webDir, 'build/index.js');
  if (!existsSync(pkgPath)) return { kind: 'none', why: 'web/ has no package.json' };
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { scripts?: Record<string, string> };
  const hasSources = ['svelte.config.js', 'svelte.config.ts', 'src'].some((f) => existsSync(join(webDir, f)));
  if (pkg.scripts?.build && hasSources) {
    if (!existsSync(built) || statSync(built).mtimeMs < newestMtime(webDir)) return { kind: 'build-and-run' };
    return { kind: 'run' };
  }
  if (existsSync(built)) return { kind: 'run' };
  return { kind: 'none', why: 'web/ has no app yet (no svelte.config.js or src/)' };
}

// ---------------------------------------------------------------------------------------------
// Bring-up

mkdirSync(dataDir, { recursive: true });
if (!existsSync(tsx)) fail('node_modules is missing: run `npm run up` (or `npm ci`) first');

const externalTemporal = process.env.TEMPORAL_ADDRESS;
const externalDb = process.env.DATABASE_URL;
const externalStripe = process.env.KEELSON_STRIPE_API_URL;
const stripeMockBuilt = existsSync(join(root, '.tools/bin/stripe-mock'));

// Ports we are about to take must be free; a leftover process from an earlier run is the usual cause.
const wanted: Array<[string, number]> = [
  ['API_PORT', ports.api],
  ['WEB_PORT', ports.web],
  ...(externalTemporal ? [] : ([['TEMPORAL_PORT', ports.temporal], ['TEMPORAL_UI_PORT', ports.temporalUi]] as Array<[string, number]>)),
  ...(externalDb ? [] : ([['PGLITE_PORT', ports.pglite]] as Array<[string, number]>)),
  ...(simulatorWanted ? ([['PROXMOX_SIM_PORT', ports.pveSim]] as Array<[string, number]>) : []),
  ...(!externalStripe && stripeMockBuilt ? ([['STRIPE_MOCK_PORT', ports.stripeMock]] as Array<[string, number]>) : []),
];
for (const [name, port] of wanted) {
  if (await isListening(port)) {
    const hint =
      name === 'TEMPORAL_PORT'
        ? ` (to use the server that is running there: TEMPORAL_ADDRESS=127.0.0.1:${port} npm run dev)`
        : ` (another \`npm run dev\` still running? or set ${name})`;
    fail(`port ${port} is already in use${hint}`);
  }
}

const keys = encryptionKeys();
const web = planWeb();
const apiUrl = `http://127.0.0.1:${ports.api}`;
const publicApiUrl = `http://localhost:${ports.api}`;
const webUrl = `http://localhost:${ports.web}`;

// Temporal and the web build take longest; start them first, in parallel with Postgres.
let temporalAddress = externalTemporal ?? `127.0.0.1:${ports.temporal}`;
let temporalUiUrl = process.env.TEMPORAL_UI_URL ?? (externalTemporal ? undefined : `http://localhost:${ports.temporalUi}`);
let temporal: Child | undefined;
if (!externalTemporal) {
  // The codec endpoint lets Temporal's UI decode Keelson's encrypted payloads.
  const args = [
    'scripts/temporal.sh', 'run',
    '--port', String(ports.temporal),
    '--ui-port', String(ports.temporalUi),
    '--db', join(dataDir, 'temporal.db'),
    '--ui-codec-endpoint', `${publicApiUrl}/api/codec`,
  ];
  const firstBuild = !existsSync(join(root, '.tools/bin/temporal'));
  if (firstBuild) say('building the Temporal CLI first (a few minutes, once)…');
  temporal = service('temporal', 'bash', args);
  temporalAddress = `127.0.0.1:${ports.temporal}`;
  temporalUiUrl ??= `http://localhost:${ports.temporalUi}`;
}

let webBuild: Child | undefined;
if (web.kind === 'build-and-run') {
  say('building the web app…');
  webBuild = start('web-build', 'npm', ['run', 'build', '-w', '@keelson/web']);
  children.push(webBuild);
}

let databaseUrl = externalDb;
if (!databaseUrl) {
  const dir = join(dataDir, 'pglite');
  const fresh = !existsSync(dir);
  say(`${fresh ? 'creating' : 'opening'} the embedded Postgres (PGlite) in .data/pglite, served on 127.0.0.1:${ports.pglite}`);
  const pg = await step('embedded Postgres', () => startEmbeddedPostgres({ dataDir: dir, port: ports.pglite }));
  cleanups.push(() => pg.stop());
  databaseUrl = pg.url;
}
const dbUrl = databaseUrl;

const seedEnv = await step('settings', async () => loadSeedEnv({ ...process.env, DATABASE_URL: dbUrl }));
const login = { email: seedEnv.KEELSON_ADMIN_EMAIL, password: seedEnv.KEELSON_ADMIN_PASSWORD };

const { tenantId, localNode } = await step('database setup', async () => {
  const handle = connectDb(dbUrl, { max: 2 });
  try {
    await migrateDb(handle.db);
    say('migrations applied');
    const { tenantId } = await seed(handle.db, seedOptionsFrom(seedEnv));
    say(`seeded organization "${seedEnv.KEELSON_ORG_SLUG}" and its admin ${seedEnv.KEELSON_ADMIN_EMAIL}`);
    if (!(await dockerAnswers())) {
      say(`no Docker engine answers on ${dockerSocket}: starting without a local node (run \`scripts/docker.sh ensure\`)`);
      return { tenantId, localNode: undefined };
    }
    const endpoint = `unix://${dockerSocket}`;
    const [node] = await handle.db
      .insert(nodes)
      .values({ tenantId, name: 'local', kind: 'docker', endpoint })
      .onConflictDoUpdate({ target: [nodes.tenantId, nodes.name], set: { endpoint: sql`excluded.endpoint` } })
      .returning({ id: nodes.id });
    say(`local Docker engine registered as node "local" (${node!.id})`);
    return { tenantId, localNode: { id: node!.id } };
  } finally {
    await handle.close();
  }
});

// The Proxmox simulator, so that a VM can be provisioned at once: its guests are containers on
// the local Docker engine, reached by the worker's Ansible step over SSH.
let simulatorStatus = 'off (KEELSON_PROXMOX_SIMULATOR=off)';
if (simulatorWanted) {
  const docker = new Docker({ socketPath: dockerSocket });
  const unavailable = localNode ? await simulatorUnavailable(docker) : 'no Docker engine for its guests';
  if (unavailable) {
    simulatorStatus = `not started: ${unavailable}`;
    say(`Proxmox simulator ${simulatorStatus}`);
  } else {
    const network = 'keelson-pve-dev';
    const subnet = await step('simulator network', () => guestSubnet(docker, network));
    const sim = service('pve-sim', tsx, simulatorArgs({ stateDir: join(dataDir, 'proxmox-sim'), port: ports.pveSim, network, subnet, namespace: 'dev', timeScale: simulatorTimeScale }));
    const hello = await step('Proxmox simulator', () =>
      Promise.race([
        sim.waitForLine(/^\{"url":/).then((line) => JSON.parse(line) as SimulatorHello),
        sim.exited.then((code) => Promise.reject(new Error(`it exited (code ${code})`))),
      ]),
    );
    const cluster = await step('simulator cluster', async () => {
      const handle = connectDb(dbUrl, { max: 1 });
      try {
        return await registerSimulatorCluster(handle.db, parseKeyRing(keys.spec), tenantId, hello);
      } finally {
        await handle.close();
      }
    });
    const ansible = onPath('ansible-playbook') ? '' : '; no ansible-playbook here, so provisioning stops at its Ansible step';
    simulatorStatus = `cluster "${SIMULATOR_CLUSTER_NAME}" (${cluster.id}) — a simulator at ${hello.url}, guests on ${subnet}${ansible}`;
    say(`Proxmox simulator serving ${hello.url}, registered as cluster "${SIMULATOR_CLUSTER_NAME}"`);
  }
}

if (temporal) {
  const slow = !existsSync(join(root, '.tools/bin/temporal.version'));
  await step('Temporal dev server', () => waitUntil('Temporal dev server', () => isListening(ports.temporal), slow ? 900_000 : 90_000, temporal));
  say(`Temporal dev server on ${temporalAddress}`);
}

// Card payments: Stripe's own API mock unless a Stripe API is named (it keeps no state; docs/decisions/0026).
let stripeApiUrl = externalStripe;
let stripeStatus = externalStripe ? externalStripe : 'none (stripe-mock is not built: bash scripts/stripe-mock.sh ensure)';
if (!externalStripe && stripeMockBuilt) {
  const stripeMock = service('stripe-mock', 'bash', ['scripts/stripe-mock.sh', 'run', '--port', String(ports.stripeMock)]);
  await step('stripe-mock', () => waitUntil('stripe-mock', () => isListening(ports.stripeMock), 30_000, stripeMock));
  stripeApiUrl = `http://127.0.0.1:${ports.stripeMock}`;
  stripeStatus = `${stripeApiUrl} (stripe-mock: Stripe's fixtures, no state)`;
}

const common = {
  DATABASE_URL: dbUrl,
  TEMPORAL_ADDRESS: temporalAddress,
  KEELSON_ENCRYPTION_KEYS: keys.spec,
  ...(stripeApiUrl ? { KEELSON_STRIPE_API_URL: stripeApiUrl } : {}),
};

// The local node's edge proxy: Caddy with only its admin API configured; the worker adds the
// apps' server and routes. Its config lives in memory: every deploy re-applies its route.
// spawns: caddy (as found on PATH)
const caddyBinary = onPath('caddy');
let proxyStatus = 'none (caddy is not installed: scripts/caddy.sh ensure)';
if (caddyBinary && localNode) {
  const caddyConfig = join(dataDir, 'caddy.json');
  writeFileSync(
    caddyConfig,
    JSON.stringify({ admin: { listen: `127.0.0.1:${ports.caddyAdmin}`, config: { persist: false } }, storage: { module: 'file_system', root: join(dataDir, 'caddy') } }),
  );
  const caddy = service('caddy', caddyBinary, ['run', '--config', caddyConfig]);
  await step('edge proxy', () => waitUntil('Caddy admin API', () => isListening(ports.caddyAdmin), 30_000, caddy));
  proxyStatus = `http://localhost:${ports.apps} (Caddy; apps answer by their hostname)`;
}

const worker = service('worker', tsx, ['workers/src/main.ts'], {
  ...common,
  KEELSON_CORE_WORKER: 'true',
  KEELSON_NODE_IDS: localNode?.id ?? '',
  DOCKER_SOCKET: dockerSocket,
  KEELSON_WORK_DIR: join(dataDir, 'work'),
  KEELSON_PROXY_ADMIN_URL: `http://127.0.0.1:${ports.caddyAdmin}`,
  KEELSON_PROXY_LISTEN: `:${ports.apps}`,
  KEELSON_PROXY_UPSTREAMS_DIR: join(dataDir, 'caddy-upstreams'),
});
const workerReady = worker.waitForLine(/workers running/);

const api = service('api', tsx, ['api/src/server.ts'], {
  ...common,
  HOST: '127.0.0.1',
  PORT: String(ports.api),
  COOKIE_SECURE: 'false',
  CODEC_CORS_ORIGINS: process.env.CODEC_CORS_ORIGINS ?? `http://localhost:${ports.temporalUi},http://127.0.0.1:${ports.temporalUi}`,
  ...(temporalUiUrl ? { TEMPORAL_UI_URL: temporalUiUrl } : {}),
});

await step('API', () =>
  waitUntil(
    '/api/health',
    async () => {
      const res = await httpGet({ url: `${apiUrl}/api/health` });
      return res.status === 200 && (JSON.parse(res.body) as { status?: string }).status === 'ok';
    },
    120_000,
    api,
  ),
);

let webStatus: string;
if (web.kind === 'none') {
  webStatus = `not started: ${web.why}`;
} else {
  if (webBuild) {
    const code = await webBuild.exited;
    children.splice(children.indexOf(webBuild), 1);
    if (code !== 0) {
      console.error(`${prefix('dev')} ${paint(31, `web build failed (exit ${code})`)}`);
      await shutdown(1, 'web-build');
    }
  }
  // web/server.js: adapter-node's handler plus the WebSocket relay the container terminal needs.
  const webChild = service('web', process.execPath, ['web/server.js'], {
    HOST: '127.0.0.1',
    PORT: String(ports.web),
    // adapter-node assumes https unless told the public origin; CSRF checks on forms need it right.
    ORIGIN: process.env.ORIGIN ?? webUrl,
    API_URL: apiUrl,
    // The API accepts bodies up to 1 MiB; the proxy in front of it must not refuse them first.
    BODY_SIZE_LIMIT: '1M',
  });
  await step('web app', () => waitUntil('web app', () => isListening(ports.web), 60_000, webChild));
  webStatus = webUrl;
}

await step('worker', () =>
  Promise.race([
    workerReady,
    new Promise((_, reject) => setTimeout(() => reject(new Error('worker did not report "workers running" within 180s')), 180_000).unref()),
  ]),
);

const line = '─'.repeat(64);
const rows: Array<[string, string]> = [
  ['UI', webStatus],
  ['API', `${publicApiUrl}/api`],
  ['API docs', `${publicApiUrl}/api/docs`],
  ['Temporal UI', temporalUiUrl ?? `(external Temporal at ${temporalAddress}; set TEMPORAL_UI_URL)`],
  ['Temporal', temporalAddress],
  ['Postgres', externalDb ? redact(dbUrl) : `${dbUrl} (embedded PGlite, .data/pglite)`],
  ['Docker node', localNode ? `local (${localNode.id})` : 'none (no Docker engine answered)'],
  ['Apps proxy', proxyStatus],
  ['Proxmox', simulatorStatus],
  ['Stripe API', stripeStatus],
  ['Encryption key', keys.source],
  ['Login', `${login.email} / ${login.password}`],
];
console.log(
  [
    '',
    paint(1, line),
    paint(1, '  Keelson is up'),
    line,
    ...rows.map(([k, v]) => `  ${k.padEnd(15)} ${v}`),
    line,
    '  Ctrl-C stops everything.',
    paint(1, line),
    '',
  ].join('\n'),
);

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

// The children keep this process alive; shutdown() ends it.

/** The full path of `name` on PATH, or undefined. */
function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}
