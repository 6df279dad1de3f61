/**
 * `npm run bench:web`: the operator UI in Debian's headless Chromium, against the real platform.
 *   (a) JavaScript shipped on first load (cold cache) of the login page, the runs page and a run
 *       page, gzip kB: every script response of the navigation, gzipped here with zlib.
 *   (b) Output line → on screen: a line written into a run's output (as the run-log activity
 *       writes it) until the run page's terminal shows it, next to the same line's arrival on the
 *       API's SSE stream read directly (the baseline) and on a plain LISTEN connection.
 * Progress goes to stderr; a table and, as the last line, a JSON summary go to stdout; the summary
 * is also written to bench/results/web-<timestamp>.json. See bench/README.md.
 */
import { RUN_LOG_CHANNEL } from '@keelson/common/constants';
import { connectDb, hashPassword } from '@keelson/db';
import { memberships, users } from '@keelson/db/schema';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync, constants as zlib } from 'node:zlib';
import pg from 'pg';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CHROMIUM_PATH, ensureWebBuild, launchChromium, signInThroughLoginPage, startWebApp, type WebApp } from '../test/e2e-platform';
import { startBenchPlatform, type BenchPlatform } from './platform';
import { readSse, wallClockMs } from './sse';
import { percentile, round, summarize, type LatencySummary } from './stats';

const USAGE = `usage: npm run bench:web -- [options]
  --lines N      measured output lines                     default 20
  --warmup W     unmeasured lines first                    default 3
  --gap-ms G     pause between one line showing and the next write   default 100`;

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    'gap-ms': { type: 'string', default: '100' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
function intArg(name: 'lines' | 'warmup' | 'gap-ms', min: number): number {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < min) {
    console.error(`bench:web: --${name} must be an integer ≥ ${min}, got "${values[name]}"\n${USAGE}`);
    process.exit(2);
  }
  return v;
}
const params = { lines: intArg('lines', 1), warmup: intArg('warmup', 0), gapMs: intArg('gap-ms', 0) };

const progress = (msg: string) => process.stderr.write(`bench:web │ ${msg}\n`);
Runtime.install({ logger: new DefaultLogger('WARN') });

/** adapter-node precompresses with gzip level 9; the same level is used here. */
const GZIP_LEVEL = zlib.Z_BEST_COMPRESSION;
const PASSWORD = 'bench web password';
/** No new script for this long after the page is ready: the navigation's scripts are all in. */
const SCRIPT_QUIET_MS = 1_000;

interface ScriptLoad {
  scripts: number;
  rawKb: number;
  gzipKb: number;
}

interface LineTiming {
  /** Row created_at (Postgres now(): start of the inserting transaction), epoch ms, µs precision. */
  writtenAt: number;
  /** The page's DOM showed it (xterm rendered the row), epoch ms. */
  shownAt: number;
  /** It arrived on a direct SSE stream from the API, epoch ms. */
  sseAt: number;
  /** Its NOTIFY arrived on a plain LISTEN connection, epoch ms. */
  notifyAt: number;
}

/** What OBSERVER_SCRIPT keeps on the page's window. */
interface MarkerGlobals {
  /** Markers to look for. */
  __want: string[];
  /** When each first appeared on screen, epoch ms. */
  __seen: Record<string, number>;
}
/**
 * Runs in the page: records when each wanted marker first appears in the terminal's rows. A
 * MutationObserver fires in the microtask after xterm's renderer changed the DOM, before the
 * frame is painted. (A string: the root tsconfig has no DOM types.)
 */
const OBSERVER_SCRIPT = `(() => {
  window.__seen = {};
  window.__want = [];
  const rows = document.querySelector('.xterm-rows');
  new MutationObserver(() => {
    const text = rows.textContent || '';
    const now = performance.timeOrigin + performance.now();
    for (const m of window.__want) if (!(m in window.__seen) && text.includes(m)) window.__seen[m] = now;
  }).observe(rows, { childList: true, subtree: true, characterData: true });
})()`;

const began = performance.now();
let platform: BenchPlatform | undefined;
let web: WebApp | undefined;
let browser: Browser | undefined;
const cleanups: Array<() => Promise<unknown>> = [];
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress(`${signal}: cleaning up…`);
    void cleanup().finally(() => process.exit(130));
  });
}
async function cleanup() {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch((err: Error) => progress(`cleanup: ${err.message}`));
}

try {
  progress('checking the web build…');
  const { built } = await ensureWebBuild();
  platform = await startBenchPlatform();
  cleanups.push(() => platform!.close());
  const user = await createUser(platform);
  web = await startWebApp({ apiUrl: platform.baseUrl });
  cleanups.push(() => web!.stop());
  browser = await launchChromium();
  cleanups.push(() => browser!.close());
  progress(`ready in ${((performance.now() - began) / 1000).toFixed(1)} s: web ${web.url}, API ${platform.baseUrl}`);

  // A run that stays open (waiting for approval) for the run page, with one line already written.
  const run = await startWaitingRun(platform);
  cleanups.push(() => platform!.client.workflow.getHandle(run.workflowId).terminate('bench done'));

  const js = await measureFirstLoads(browser, web.url, user, run.workflowId);
  const latency = await measureOutputLatency(browser, web.url, user, platform, run);

  const notes = [
    ...platform.notes,
    `web build: ${built ? 'built for this run' : 'up to date, reused'}; served by ${web.entry}`,
    `Chromium: ${browser.version()} (${CHROMIUM_PATH}), headless`,
  ];
  const summary = buildSummary(js, latency, notes, (performance.now() - began) / 1000);
  console.log(table(js, latency, notes));
  const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(resultsDir, { recursive: true });
  const file = `${resultsDir}web-${summary.at.replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
  progress(`written to ${file}`);
  console.log(JSON.stringify(summary));
} catch (err) {
  console.error(`bench:web: ${(err as Error).stack ?? err}`);
  if (web) console.error(`web app output:\n${web.output()}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
// The Temporal SDK's native runtime can keep the event loop alive after everything is closed.
process.exit(process.exitCode ?? 0);

async function createUser(p: BenchPlatform) {
  const { db, close } = connectDb(p.dbUrl, { max: 1 });
  try {
    const email = 'bench-web@example.test';
    const [u] = await db.insert(users).values({ email, name: 'bench', passwordHash: await hashPassword(PASSWORD) }).returning({ id: users.id });
    await db.insert(memberships).values({ tenantId: p.tenantId, userId: u!.id, role: 'operator' });
    return { email, password: PASSWORD };
  } finally {
    await close();
  }
}

async function startWaitingRun(p: BenchPlatform): Promise<{ workflowId: string; runId: string }> {
  const res = await fetch(`${p.baseUrl}/api/runs`, {
    method: 'POST',
    headers: { ...p.auth, 'content-type': 'application/json' },
    body: JSON.stringify({ operation: 'system.noop', input: { echo: ['bench: waiting for lines'], waitForApproval: true } }),
  });
  if (res.status !== 201) throw new Error(`POST /api/runs answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { workflowId: string; runId: string };
}

/** Every script response of one navigation in a cold context (no cache), gzipped here. */
async function scriptsOf(context: BrowserContext, load: (page: Page) => Promise<void>): Promise<ScriptLoad> {
  const page = await context.newPage();
  const bodies = new Map<string, Promise<Buffer | null>>();
  let lastScriptAt = performance.now();
  page.on('response', (res) => {
    const url = res.url();
    const isScript = res.request().resourceType() === 'script' || /\.m?js(\?|$)/.test(new URL(url).pathname);
    if (isScript && !bodies.has(url)) {
      lastScriptAt = performance.now();
      bodies.set(url, res.body().catch(() => null));
    }
  });
  await load(page);
  // Not 'networkidle': a run page keeps its SSE stream open. Scripts loaded on demand (xterm)
  // arrive right after the page renders; a quiet second means they are all in.
  await page.waitForLoadState('load');
  const until = performance.now() + 10_000;
  while (performance.now() - lastScriptAt < SCRIPT_QUIET_MS && performance.now() < until) await new Promise((r) => setTimeout(r, 100));
  let raw = 0;
  let gz = 0;
  for (const body of await Promise.all(bodies.values())) {
    if (!body) continue;
    raw += body.length;
    gz += gzipSync(body, { level: GZIP_LEVEL }).length;
  }
  await page.close();
  return { scripts: bodies.size, rawKb: raw / 1024, gzipKb: gz / 1024 };
}

async function measureFirstLoads(b: Browser, baseUrl: string, user: { email: string; password: string }, workflowId: string) {
  progress('measuring JavaScript on first load…');
  const login = await b.newContext();
  const loginPage = await scriptsOf(login, async (page) => {
    await page.goto(`${baseUrl}/login`);
    await page.getByTestId('login-form').waitFor();
  });
  // The same browser signs in; its session (cookie) is then used by cold contexts.
  const signedIn = await login.newPage();
  await signInThroughLoginPage(signedIn, baseUrl, user);
  const state = await login.storageState();
  await login.close();

  const cold = async (path: string, ready: (page: Page) => Promise<void>) => {
    const context = await b.newContext({ storageState: state });
    try {
      return await scriptsOf(context, async (page) => {
        await page.goto(`${baseUrl}${path}`);
        await ready(page);
      });
    } finally {
      await context.close();
    }
  };
  const runsPage = await cold('/runs', (page) => page.getByTestId('runs-table').waitFor());
  const runPage = await cold(`/runs/${workflowId}`, (page) => page.locator('.xterm-rows').waitFor());
  return { loginPage, runsPage, runPage };
}

async function measureOutputLatency(
  b: Browser,
  baseUrl: string,
  user: { email: string; password: string },
  p: BenchPlatform,
  run: { workflowId: string; runId: string },
): Promise<{ page: LatencySummary; sse: LatencySummary; notify: LatencySummary; p95: { page: number; sse: number; notify: number } }> {
  progress(`measuring output line → screen: ${params.warmup} + ${params.lines} lines…`);
  const context = await b.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  await signInThroughLoginPage(page, baseUrl, user);
  await page.goto(`${baseUrl}/runs/${run.workflowId}`);
  await page.locator('.xterm-rows').waitFor();
  await page.getByTestId('run-output').filter({ hasText: 'bench: waiting for lines' }).waitFor();
  await page.getByTestId('stream-indicator').and(page.locator('[data-state="live"]')).waitFor();
  await page.evaluate(OBSERVER_SCRIPT);

  // Baselines for the same writes: the API's SSE stream read directly, and a plain LISTEN.
  const sseAbort = new AbortController();
  const sseSeen = new Map<string, number>();
  const sseRes = await fetch(`${p.baseUrl}/api/runs/${encodeURIComponent(run.workflowId)}/stream`, { headers: p.auth, signal: sseAbort.signal });
  if (sseRes.status !== 200) throw new Error(`stream answered ${sseRes.status}`);
  const sseDone = readSse(sseRes, (e) => {
    if (e.event === 'log') sseSeen.set((e.data as { data: string }).data.trim(), e.receivedAt);
  }).catch(() => undefined);

  const writer = new pg.Client({ connectionString: p.dbUrl });
  const listener = new pg.Client({ connectionString: p.dbUrl });
  await Promise.all([writer.connect(), listener.connect()]);
  const notified: number[] = [];
  listener.on('notification', (msg) => {
    if (msg.payload === run.workflowId) notified.push(wallClockMs());
  });
  await listener.query(`LISTEN ${RUN_LOG_CHANNEL}`);

  const timings: LineTiming[] = [];
  try {
    for (let i = 0; i < params.warmup + params.lines; i++) {
      const marker = `bench-line-${String(i).padStart(3, '0')}-${Math.random().toString(36).slice(2, 8)}`;
      await page.evaluate((m) => (globalThis as unknown as MarkerGlobals).__want.push(m), marker);
      const notifiedBefore = notified.length;
      // Exactly what the run-log activity does (activities/db/run-log.ts): one transaction that
      // inserts the row and notifies the channel with the workflow id.
      await writer.query('begin');
      const { rows } = await writer.query<{ atMs: number }>(
        `insert into run_logs (tenant_id, workflow_id, run_id, activity_id, attempt, stream, data)
         values ($1, $2, $3, 'bench', 1, 'stdout', $4)
         returning (extract(epoch from created_at) * 1000)::float8 as "atMs"`,
        [p.tenantId, run.workflowId, run.runId, `${marker}\n`],
      );
      await writer.query('select pg_notify($1, $2)', [RUN_LOG_CHANNEL, run.workflowId]);
      await writer.query('commit');
      const shownAt = await page
        .waitForFunction((m) => (globalThis as unknown as MarkerGlobals).__seen[m], marker, { timeout: 15_000, polling: 20 })
        .then((h) => h.jsonValue() as Promise<number>);
      const until = Date.now() + 5_000;
      while ((!sseSeen.has(marker) || notified.length === notifiedBefore) && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
      if (!sseSeen.has(marker) || notified.length === notifiedBefore) throw new Error(`line ${marker} did not arrive on the direct stream or LISTEN`);
      if (i >= params.warmup) timings.push({ writtenAt: rows[0]!.atMs, shownAt, sseAt: sseSeen.get(marker)!, notifyAt: notified[notifiedBefore]! });
      if (params.gapMs) await new Promise((r) => setTimeout(r, params.gapMs));
    }
    // Every line once, in order, on screen: nothing dropped or repeated while measuring.
    const text = (await page.locator('.xterm-rows').innerText()).replace(/\u00a0/g, ' ');
    const shown = text.match(/bench-line-\d{3}-[a-z0-9]+/g) ?? [];
    if (new Set(shown).size !== shown.length) throw new Error('a line was shown twice');
  } finally {
    sseAbort.abort();
    await sseDone;
    await Promise.allSettled([writer.end(), listener.end()]);
    await context.close();
  }
  const pageMs = timings.map((t) => t.shownAt - t.writtenAt);
  const sseMs = timings.map((t) => t.sseAt - t.writtenAt);
  const notifyMs = timings.map((t) => t.notifyAt - t.writtenAt);
  const p95 = (xs: number[]) => percentile([...xs].sort((a, c) => a - c), 95);
  return { page: summarize(pageMs), sse: summarize(sseMs), notify: summarize(notifyMs), p95: { page: p95(pageMs), sse: p95(sseMs), notify: p95(notifyMs) } };
}

type Js = Awaited<ReturnType<typeof measureFirstLoads>>;
type Latency = Awaited<ReturnType<typeof measureOutputLatency>>;

function buildSummary(js: Js, latency: Latency, notes: string[], durationS: number) {
  const load = (l: ScriptLoad) => ({ scripts: l.scripts, rawKb: round(l.rawKb, 1), gzipKb: round(l.gzipKb, 1) });
  const lat = (l: LatencySummary, p95: number) => ({ p50Ms: round(l.p50), p95Ms: round(p95), minMs: round(l.min), maxMs: round(l.max), meanMs: round(l.mean), samples: l.samples });
  return {
    bench: 'keelson-web',
    schema: 1,
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version, platform: `${process.platform}-${process.arch}` },
    params,
    firstLoadJs: { login: load(js.loginPage), runs: load(js.runsPage), run: load(js.runPage) },
    outputToScreen: {
      page: lat(latency.page, latency.p95.page),
      sse: lat(latency.sse, latency.p95.sse),
      notify: lat(latency.notify, latency.p95.notify),
      ratio: { p50: round(latency.page.p50 / latency.sse.p50), p95: round(latency.p95.page / latency.p95.sse) },
    },
    notes,
    durationS: round(durationS, 1),
  };
}

function table(js: Js, latency: Latency, notes: string[]): string {
  const f = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : '—');
  const row = (label: string, ...cells: string[]) => `  ${label.padEnd(30)}${cells.map((c) => c.padStart(14)).join('')}`;
  const l = (x: ScriptLoad) => [String(x.scripts), f(x.rawKb), f(x.gzipKb)];
  const { page, sse, notify, p95 } = latency;
  return [
    '',
    `Keelson web bench — ${cpus().length} CPUs, Node ${process.version}`,
    '',
    'JavaScript on first load (cold cache)',
    row('', 'scripts', 'raw kB', 'gzip kB'),
    row('login page', ...l(js.loginPage)),
    row('runs page (signed in)', ...l(js.runsPage)),
    row('run page (signed in, xterm)', ...l(js.runPage)),
    '',
    `Output line → on screen: ${params.lines} lines (after ${params.warmup} warm-up), one at a time`,
    row('', 'run page', 'SSE (direct)', 'LISTEN (raw)', 'page/SSE'),
    row('latency p50 (ms)', f(page.p50, 2), f(sse.p50, 2), f(notify.p50, 2), f(page.p50 / sse.p50, 2)),
    row('latency p95 (ms)', f(p95.page, 2), f(p95.sse, 2), f(p95.notify, 2), f(p95.page / p95.sse, 2)),
    row('latency max (ms)', f(page.max, 2), f(sse.max, 2), f(notify.max, 2)),
    '',
    ...notes.map((n) => `  ${n}`),
    '',
  ].join('\n');
}
