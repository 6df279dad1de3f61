/**
 * The processes a browser test (or the web benchmark) runs against, without vitest: the web app's
 * production build (made when missing or stale), the built web server as a child process, the
 * API served over real HTTP (and restartable, to cut live streams), and Debian's Chromium.
 * `web/e2e/harness.ts` puts these together with `createTestPlatform()`.
 */
import { serve } from '@hono/node-server';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

const root = fileURLToPath(new URL('..', import.meta.url));
const webDir = join(root, 'web');
const buildMarker = join(webDir, 'build', 'handler.js');
const buildLock = join(root, '.cache', 'web-build.lock');
/** Per-run copies of the built app (see `ensureWebBuild`); packages resolve from the root node_modules. */
const snapshotsDir = join(root, '.cache', 'web-e2e');
const READY = '.ready';
/** Older copies are removed when a new one is made; no test run lasts this long. */
const SNAPSHOT_MAX_AGE_MS = 6 * 60 * 60_000;

/** What the build reads besides web/src; a change to any of them makes the build stale. */
const BUILD_INPUTS = ['src', 'svelte.config.js', 'vite.config.ts', 'package.json'];
/** A lock older than this belongs to a build that died; it is taken over. */
const STALE_LOCK_MS = 5 * 60_000;
const BUILD_TIMEOUT_MS = 5 * 60_000;

/** Debian's chromium (see shared/ENVIRONMENT.md); `scripts/test.sh` installs it. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/**
 * Headless, no sandbox (we run as root), and nothing that reaches for Google's hosts: this
 * machine has no network, and those attempts only slow the start down.
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const log = (msg: string) => process.stderr.write(`e2e │ ${msg}\n`);

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs; // a deleted file changes its folder's mtime
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** Whether web/build is missing or older than what it is built from. */
export function webBuildIsStale(): boolean {
  if (!existsSync(buildMarker)) return true;
  const built = statSync(buildMarker).mtimeMs;
  return BUILD_INPUTS.some((p) => newestMtime(join(webDir, p)) > built);
}

export interface WebBuild {
  /** Whether this call built it. */
  built: boolean;
  /** The folder to serve from: `web/`, or a private copy of what it serves (see below). */
  dir: string;
}

/**
 * Builds the web app (`npm run build -w @keelson/web`, ~20 s) when web/build is missing or stale.
 * Test files start in parallel: a lock folder lets one of them build while the others wait.
 *
 * With `runKey` (one value per test run) the check happens once per run, and the files of that
 * run serve a private copy (`.cache/web-e2e/<runKey>/`: web/build and web's server scripts), so
 * a rebuild meanwhile (a later run, `npm run dev`, a person building) never changes the files
 * under a web server a test is using.
 */
export async function ensureWebBuild(opts: { runKey?: string } = {}): Promise<WebBuild> {
  mkdirSync(join(root, '.cache'), { recursive: true });
  const snapshot = opts.runKey ? join(snapshotsDir, opts.runKey.replace(/[^\w.-]+/g, '_')) : null;
  const ready = () => !!snapshot && existsSync(join(snapshot, READY));
  const until = Date.now() + BUILD_TIMEOUT_MS;
  for (;;) {
    if (ready()) return { built: false, dir: snapshot! };
    if (!snapshot && !webBuildIsStale()) return { built: false, dir: webDir };
    if (tryLock()) break;
    if (Date.now() > until) throw new Error(`timed out waiting for another process's web build (lock ${buildLock})`);
    await new Promise((r) => setTimeout(r, 500));
  }
  try {
    if (ready()) return { built: false, dir: snapshot! }; // made by another file between the check and the lock
    let built = false;
    if (webBuildIsStale()) {
      log('building the web app (npm run build -w @keelson/web)…');
      const started = Date.now();
      await runCommand('npm', ['run', 'build', '-w', '@keelson/web'], BUILD_TIMEOUT_MS);
      log(`web app built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      built = true;
    }
    if (!snapshot) return { built, dir: webDir };
    pruneSnapshots();
    rmSync(snapshot, { recursive: true, force: true });
    mkdirSync(snapshot, { recursive: true });
    cpSync(join(webDir, 'build'), join(snapshot, 'build'), { recursive: true });
    // server.js and what it imports beside it (not the tools' configs).
    for (const f of readdirSync(webDir)) if (/\.m?js$/.test(f) && !/\.config\.m?js$/.test(f)) cpSync(join(webDir, f), join(snapshot, f));
    writeFileSync(join(snapshot, READY), '');
    return { built, dir: snapshot };
  } finally {
    rmSync(buildLock, { recursive: true, force: true });
  }
}

/** Copies made for earlier runs, once nothing can be using them any more. */
function pruneSnapshots() {
  if (!existsSync(snapshotsDir)) return;
  for (const d of readdirSync(snapshotsDir)) {
    const path = join(snapshotsDir, d);
    if (Date.now() - statSync(path).mtimeMs > SNAPSHOT_MAX_AGE_MS) rmSync(path, { recursive: true, force: true });
  }
}

function tryLock(): boolean {
  try {
    mkdirSync(buildLock);
    return true;
  } catch {
    try {
      if (Date.now() - statSync(buildLock).mtimeMs > STALE_LOCK_MS) rmSync(buildLock, { recursive: true, force: true });
    } catch {
      // released meanwhile
    }
    return false;
  }
}

function runCommand(cmd: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${output}`));
    });
  });
}

/** A free TCP port on 127.0.0.1 (the kernel's pick; released before it is returned). */
export function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface ServedApi {
  /** `http://127.0.0.1:<port>`; the same across restarts. */
  url: string;
  port: number;
  /** Stops listening and cuts every open connection (SSE streams included). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

/**
 * Serves `fetch` (the API app's) with @hono/node-server on 127.0.0.1. `attach` runs on each new
 * server, for what hooks into the HTTP server itself (e.g. a websocket upgrade handler).
 */
export async function serveApi(fetch: (req: Request) => Response | Promise<Response>, opts: { attach?: (server: Server) => void } = {}): Promise<ServedApi> {
  let server: Server | null = null;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = serve({ fetch, hostname: '127.0.0.1', port }, (info: AddressInfo) => {
        port = info.port;
        resolve();
      }) as Server;
      s.once('error', reject);
      opts.attach?.(s);
      server = s;
    });
  await listen();
  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    async stop() {
      const s = server;
      server = null;
      if (!s) return;
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      });
    },
    async start() {
      if (!server) await listen();
    },
  };
}

export interface WebApp {
  /** `http://127.0.0.1:<port>`, which is also its ORIGIN. */
  url: string;
  /** What runs it: `web/server.js` or `web/build`. */
  entry: string;
  /** The last of its output, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts the built web app: `node web/server.js` where that exists (the app plus its websocket
 * proxy), else adapter-node's `node web/build`; from `dir` (`ensureWebBuild()`'s) if given.
 * Resolves once it answers HTTP.
 */
export async function startWebApp(opts: { apiUrl: string; dir?: string; port?: number }): Promise<WebApp> {
  const port = opts.port ?? (await freeLocalPort());
  const url = `http://127.0.0.1:${port}`;
  const dir = opts.dir ?? webDir;
  const entry = existsSync(join(dir, 'server.js')) ? join(dir, 'server.js') : join(dir, 'build');
  const child: ChildProcess = spawn(process.execPath, [entry], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', API_URL: opts.apiUrl, ORIGIN: url, BODY_SIZE_LIMIT: '1M', SHUTDOWN_TIMEOUT: '2', NODE_ENV: 'production' },
  });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  const until = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the web app (${entry}) exited with ${child.exitCode}:\n${output}`);
    try {
      const res = await fetch(`${url}/login`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) {
      await stop();
      throw new Error(`the web app (${entry}) did not answer on ${url} within 30 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return { url, entry: entry.slice(root.length), output: () => output, stop };
}

/** Debian's Chromium, headless, through playwright-core. */
export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: install it (apt-get install -y chromium; scripts/test.sh does) or set CHROMIUM_PATH`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

/**
 * Chromium aborts in-flight requests with ERR_NETWORK_CHANGED whenever a network interface
 * comes or goes, and the Docker engine under test adds and removes one with every container.
 * A page load that lost requests that way is loaded again (a person would reload); any other
 * failure is the test's to report.
 */
export async function withNetworkChangeRetry<T>(page: Page, attempt: () => Promise<T>, tries = 3): Promise<T> {
  for (let i = 1; ; i++) {
    let networkChanged = false;
    const watch = (r: { failure(): { errorText: string } | null }) => {
      if (r.failure()?.errorText.includes('ERR_NETWORK_CHANGED')) networkChanged = true;
    };
    page.on('requestfailed', watch);
    try {
      return await attempt();
    } catch (err) {
      if (!networkChanged || i >= tries) throw err;
    } finally {
      page.off('requestfailed', watch);
    }
  }
}

/** Signs in through the login page, as a person would, and waits for the runs list. */
export async function signInThroughLoginPage(page: Page, baseUrl: string, user: { email: string; password: string }): Promise<void> {
  await withNetworkChangeRetry(page, async () => {
    await page.goto(`${baseUrl}/login`);
    // A retry may find the session already made by the attempt before.
    await page.getByTestId('login-email').or(page.getByTestId('who')).first().waitFor({ timeout: 15_000 });
    if (await page.getByTestId('login-email').isVisible()) {
      await page.getByTestId('login-email').fill(user.email);
      await page.getByTestId('login-password').fill(user.password);
      await page.getByTestId('login-submit').click();
    }
    await page.waitForURL((u) => u.pathname === '/runs', { timeout: 15_000 });
    await page.getByTestId('who').waitFor({ timeout: 15_000 });
  });
}
