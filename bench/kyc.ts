/**
 * `npm run bench:kyc`: the two KYC figures of issue 14, against the real platform
 * (`bench/platform.ts`: Temporal, a fresh database, the core worker, the API over HTTP), with
 * the web app's production build in Debian's headless Chromium.
 *   (a) Upload → in review: a customer (their own session, as in the portal) uploads an identity
 *       document and submits it; the submit is answered by the case's `submit` Update once the
 *       case is recorded `in_review` (the row the reviewer queue reads). One customer at a time.
 *   (b) A reviewer's decision → on the customer's portal page: the customer's identity page is
 *       open (in review); the reviewer's approval (`POST …/decision`, the `decide` Update) returns;
 *       the time until the page shows "approved", recorded in the page. And the same page opened
 *       after the decision: its load until it shows "approved".
 * Progress goes to stderr; a table and, as the last line, a JSON summary go to stdout; the summary
 * is also written to bench/results/kyc-<timestamp>.json. See bench/README.md.
 */
import { createSession, SESSION_COOKIE } from '@keelson/api/auth/sessions';
import { connectDb, hashPassword, type Database } from '@keelson/db';
import { customerContacts, customers, customerUsers, kycCases, memberships, users } from '@keelson/db/schema';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { and, eq } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Browser } from 'playwright-core';
import { CHROMIUM_PATH, ensureWebBuild, launchChromium, startWebApp, type WebApp } from '../test/e2e-platform';
import { PNG } from '../test/kyc-harness';
import { startSmtpReceiver, type SmtpReceiver } from '../test/smtp';
import { startBenchPlatform, type BenchPlatform } from './platform';
import { wallClockMs } from './sse';
import { percentile, round, summarize, type LatencySummary } from './stats';

const USAGE = `usage: npm run bench:kyc -- [options]
  --uploads N     measured upload → in review, one customer each     default 50
  --decisions D   measured decisions → portal page, one customer each default 10
  --warmup W      unmeasured rounds of each first                     default 2`;

const { values } = parseArgs({
  options: {
    uploads: { type: 'string', default: '50' },
    decisions: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
function intArg(name: 'uploads' | 'decisions' | 'warmup', min: number): number {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < min) {
    console.error(`bench:kyc: --${name} must be an integer ≥ ${min}, got "${values[name]}"\n${USAGE}`);
    process.exit(2);
  }
  return v;
}
const params = { uploads: intArg('uploads', 1), decisions: intArg('decisions', 1), warmup: intArg('warmup', 0) };

const progress = (msg: string) => process.stderr.write(`bench:kyc │ ${msg}\n`);
Runtime.install({ logger: new DefaultLogger('WARN') });

const KYC_SCOPES = ['kyc.read', 'kyc.submit', 'kyc.review', 'mail.manage', 'mail.read'];
const PASSWORD = 'bench kyc password';

interface Customer {
  id: string;
  email: string;
  password: string;
  /** The customer user's API session (cookie + CSRF), as the portal's requests carry. */
  headers: Record<string, string>;
  cookie: { name: string; value: string };
}

/**
 * Runs in the page: when the identity status first says `approved` (its `data-state`), epoch ms.
 * A MutationObserver fires in the microtask after Svelte changed the attribute, before the frame
 * is painted. (A string: the root tsconfig has no DOM types.)
 */
const OBSERVER_SCRIPT = `(() => {
  window.__approvedAt = null;
  const check = () => {
    const status = document.querySelector('[data-testid="kyc-status"]');
    if (window.__approvedAt === null && status && status.getAttribute('data-state') === 'approved') window.__approvedAt = performance.timeOrigin + performance.now();
  };
  // The whole document: the status element may be replaced as well as changed.
  new MutationObserver(check).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
  check();
})()`;

const began = performance.now();
const startLoad = loadavg();
let platform: BenchPlatform | undefined;
let web: WebApp | undefined;
let browser: Browser | undefined;
let smtp: SmtpReceiver | undefined;
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
  platform = await startBenchPlatform({ scopes: KYC_SCOPES });
  cleanups.push(() => platform!.close());
  const p = platform;
  const dbConn = connectDb(p.dbUrl, { max: 2 });
  cleanups.push(() => dbConn.close());
  // Every case emails its customer when it opens: a real SMTP receiver takes them.
  smtp = await startSmtpReceiver();
  cleanups.push(() => smtp!.close());
  await call(p, p.auth, 'PUT', '/api/mail/smtp', { host: '127.0.0.1', port: smtp.port, security: 'none', fromAddress: 'kyc@bench.test' }, 200);
  web = await startWebApp({ apiUrl: p.baseUrl });
  cleanups.push(() => web!.stop());
  browser = await launchChromium();
  cleanups.push(() => browser!.close());
  progress(`ready in ${((performance.now() - began) / 1000).toFixed(1)} s: web ${web.url}, API ${p.baseUrl}`);

  const upload = await measureUploads(p, dbConn.db);
  const decision = await measureDecisions(p, dbConn.db, browser, web.url, upload.inReview);

  const notes = [
    ...p.notes,
    `web build: ${built ? 'built for this run' : 'up to date, reused'}; served by ${web.entry}`,
    `Chromium: ${browser.version()} (${CHROMIUM_PATH}), headless`,
    `load average at start: ${startLoad.map((l) => l.toFixed(2)).join(' ')}; at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  ];
  const summary = buildSummary(upload, decision, notes, (performance.now() - began) / 1000);
  console.log(table(upload, decision, notes));
  const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(resultsDir, { recursive: true });
  const file = `${resultsDir}kyc-${summary.at.replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
  progress(`written to ${file}`);
  console.log(JSON.stringify(summary));
} catch (err) {
  console.error(`bench:kyc: ${(err as Error).stack ?? err}`);
  if (web) console.error(`web app output:\n${web.output()}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
// The Temporal SDK's native runtime can keep the event loop alive after everything is closed.
process.exit(process.exitCode ?? 0);

async function call<T = unknown>(p: BenchPlatform, headers: Record<string, string>, method: string, path: string, body: unknown, expect: number): Promise<T> {
  const res = await fetch(`${p.baseUrl}${path}`, { method, headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== expect) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A customer with a billing contact and a portal user (password and API session), its case opened and waiting for documents. */
async function createCustomer(p: BenchPlatform, db: Database, i: number): Promise<Customer> {
  const tag = `${i}-${randomBytes(3).toString('hex')}`;
  const [c] = await db
    .insert(customers)
    .values({ tenantId: p.tenantId, kind: 'individual', name: `Customer ${tag}`, address: { line1: 'Main St 1', line2: null, postalCode: '10115', city: 'Berlin', region: null, country: 'DE' }, country: 'DE', currency: 'EUR', timeZone: 'Europe/Berlin' })
    .returning({ id: customers.id });
  const email = `kyc-${tag}@customer.test`;
  await db.insert(customerContacts).values({ tenantId: p.tenantId, customerId: c!.id, name: `Customer ${tag}`, email, isBilling: true, position: 0 });
  const [u] = await db.insert(users).values({ email, name: `Customer ${tag}`, passwordHash: await hashPassword(PASSWORD) }).returning({ id: users.id });
  await db.insert(memberships).values({ tenantId: p.tenantId, userId: u!.id, role: 'customer' });
  await db.insert(customerUsers).values({ tenantId: p.tenantId, userId: u!.id, customerId: c!.id });
  const s = await createSession(db, { userId: u!.id, tenantId: p.tenantId, twoFactorVerified: true, ip: null, userAgent: 'bench:kyc' });
  const headers = { cookie: `${SESSION_COOKIE}=${s.token}`, 'x-csrf-token': s.csrfToken };
  await call(p, headers, 'POST', `/api/kyc/cases/${c!.id}`, {}, 202);
  return { id: c!.id, email, password: PASSWORD, headers, cookie: { name: SESSION_COOKIE, value: s.token } };
}

async function waitForCase(db: Database, p: BenchPlatform, customerId: string, state: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await db.select({ state: kycCases.state }).from(kycCases).where(and(eq(kycCases.tenantId, p.tenantId), eq(kycCases.customerId, customerId)));
    if (row?.state === state) return;
    if (Date.now() > until) throw new Error(`the case of ${customerId} is ${row?.state ?? 'not recorded'}, not ${state}, after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface UploadResult {
  upload: LatencySummary;
  submit: LatencySummary;
  total: LatencySummary;
  p95: { upload: number; submit: number; total: number };
  /** Customers whose case is now in review (the decision measurement approves them). */
  inReview: Customer[];
}

async function measureUploads(p: BenchPlatform, db: Database): Promise<UploadResult> {
  const n = params.warmup + params.uploads;
  progress(`opening ${n} cases…`);
  const list: Customer[] = [];
  for (let i = 0; i < n; i++) list.push(await createCustomer(p, db, i));
  for (const c of list) await waitForCase(db, p, c.id, 'awaiting_documents');

  progress(`measuring upload → in review: ${params.warmup} + ${params.uploads}, one at a time…`);
  const uploadMs: number[] = [];
  const submitMs: number[] = [];
  const totalMs: number[] = [];
  for (const [i, c] of list.entries()) {
    const t0 = performance.now();
    const res = await fetch(`${p.baseUrl}/api/kyc/cases/${c.id}/documents?kind=passport&filename=passport.png`, { method: 'POST', headers: { ...c.headers, 'content-type': 'application/octet-stream' }, body: PNG });
    if (res.status !== 201) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
    const t1 = performance.now();
    const view = await call<{ state: string }>(p, c.headers, 'POST', `/api/kyc/cases/${c.id}/submit`, undefined, 200);
    const t2 = performance.now();
    if (view.state !== 'in_review') throw new Error(`submit answered state ${view.state}`);
    if (i >= params.warmup) {
      uploadMs.push(t1 - t0);
      submitMs.push(t2 - t1);
      totalMs.push(t2 - t0);
    }
    if ((i + 1) % 10 === 0) progress(`  ${i + 1}/${n}`);
  }
  // What the submit answered is what the reviewer queue reads: the row says in review.
  for (const c of list) await waitForCase(db, p, c.id, 'in_review', 1_000);
  const p95 = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 95);
  return { upload: summarize(uploadMs), submit: summarize(submitMs), total: summarize(totalMs), p95: { upload: p95(uploadMs), submit: p95(submitMs), total: p95(totalMs) }, inReview: list };
}

interface DecisionResult {
  /** The approve request's round trip (the `decide` Update). */
  answer: LatencySummary;
  /** From the answer to the open page showing "approved" (below 0: the page showed it before the answer was back). */
  livePage: LatencySummary;
  /** From the approve request's start to the open page showing "approved". */
  livePageFromRequest: LatencySummary;
  /** A page load started after the answer, until it shows "approved" (what a reload costs). */
  freshPage: LatencySummary;
  p95: { answer: number; livePage: number; livePageFromRequest: number; freshPage: number };
}

async function measureDecisions(p: BenchPlatform, db: Database, b: Browser, baseUrl: string, candidates: Customer[]): Promise<DecisionResult> {
  const n = params.warmup + params.decisions;
  const list = [...candidates];
  while (list.length < n) {
    const c = await createCustomer(p, db, list.length);
    await waitForCase(db, p, c.id, 'awaiting_documents');
    const res = await fetch(`${p.baseUrl}/api/kyc/cases/${c.id}/documents?kind=passport&filename=passport.png`, { method: 'POST', headers: { ...c.headers, 'content-type': 'application/octet-stream' }, body: PNG });
    if (res.status !== 201) throw new Error(`upload answered ${res.status}`);
    await call(p, c.headers, 'POST', `/api/kyc/cases/${c.id}/submit`, undefined, 200);
    list.push(c);
  }
  progress(`measuring decision → portal page: ${params.warmup} + ${params.decisions}, one customer each…`);
  const answerMs: number[] = [];
  const liveMs: number[] = [];
  const liveFromRequestMs: number[] = [];
  const freshMs: number[] = [];
  const host = new URL(baseUrl).hostname;
  for (const [i, c] of list.slice(0, n).entries()) {
    const context = await b.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      await context.addCookies([{ name: c.cookie.name, value: c.cookie.value, domain: host, path: '/', httpOnly: true, sameSite: 'Lax' }]);
      const live = await context.newPage();
      await live.goto(`${baseUrl}/portal/kyc`);
      await live
        .locator('[data-testid="kyc-status"][data-state="in_review"]')
        .waitFor({ timeout: 30_000 })
        .catch(async (err: Error) => {
          const shown = await live.locator('body').innerText().catch(() => '');
          throw new Error(`${live.url()} did not show the case in review: ${err.message}\n${shown.slice(0, 500)}`);
        });
      await live.evaluate(OBSERVER_SCRIPT);

      const t0 = wallClockMs();
      const view = await call<{ state: string }>(p, p.auth, 'POST', `/api/kyc/cases/${c.id}/decision`, { decision: 'approve' }, 200);
      const answeredAt = wallClockMs();
      if (view.state !== 'approved') throw new Error(`the decision answered state ${view.state}`);
      const liveAt = await live
        .waitForFunction(() => (globalThis as unknown as { __approvedAt: number | null }).__approvedAt, undefined, { timeout: 30_000, polling: 20 })
        .then((h) => h.jsonValue() as Promise<number>);
      // The same customer opening the page after the decision: a full load until it shows it.
      const fresh = await context.newPage();
      const loadStart = wallClockMs();
      await fresh.goto(`${baseUrl}/portal/kyc`);
      await fresh.locator('[data-testid="kyc-status"][data-state="approved"]').waitFor({ timeout: 30_000 });
      const freshAt = wallClockMs();
      if (i >= params.warmup) {
        answerMs.push(answeredAt - t0);
        liveMs.push(liveAt - answeredAt);
        liveFromRequestMs.push(liveAt - t0);
        freshMs.push(freshAt - loadStart);
      }
    } finally {
      await context.close();
    }
    progress(`  ${i + 1}/${n}`);
  }
  const p95 = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 95);
  return {
    answer: summarize(answerMs),
    livePage: summarize(liveMs),
    livePageFromRequest: summarize(liveFromRequestMs),
    freshPage: summarize(freshMs),
    p95: { answer: p95(answerMs), livePage: p95(liveMs), livePageFromRequest: p95(liveFromRequestMs), freshPage: p95(freshMs) },
  };
}

function buildSummary(u: UploadResult, d: DecisionResult, notes: string[], durationS: number) {
  const lat = (l: LatencySummary, p95: number) => ({ p50Ms: round(l.p50), p95Ms: round(p95), minMs: round(l.min), maxMs: round(l.max), meanMs: round(l.mean), samples: l.samples });
  return {
    bench: 'keelson-kyc',
    schema: 1,
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version, platform: `${process.platform}-${process.arch}`, loadAverageAtStart: startLoad.map((l) => round(l)) },
    params,
    uploadToInReview: { total: lat(u.total, u.p95.total), upload: lat(u.upload, u.p95.upload), submit: lat(u.submit, u.p95.submit) },
    decisionToPortal: { answer: lat(d.answer, d.p95.answer), livePage: lat(d.livePage, d.p95.livePage), livePageFromRequest: lat(d.livePageFromRequest, d.p95.livePageFromRequest), freshPage: lat(d.freshPage, d.p95.freshPage), goalMs: 1000 },
    notes,
    durationS: round(durationS, 1),
  };
}

function table(u: UploadResult, d: DecisionResult, notes: string[]): string {
  const f = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : '—');
  const row = (label: string, ...cells: string[]) => `  ${label.padEnd(44)}${cells.map((c) => c.padStart(10)).join('')}`;
  const line = (label: string, l: LatencySummary, p95: number) => row(label, f(l.p50), f(p95), f(l.max), String(l.samples));
  return [
    '',
    `Keelson KYC bench — ${cpus().length} CPUs, Node ${process.version}`,
    '',
    `Upload → in review: ${params.uploads} customers (after ${params.warmup} warm-up), one at a time`,
    row('', 'p50 ms', 'p95 ms', 'max ms', 'n'),
    line('upload + submit (answered in review)', u.total, u.p95.total),
    line('  upload (sealed, stored)', u.upload, u.p95.upload),
    line('  submit (the submit Update)', u.submit, u.p95.submit),
    '',
    `Reviewer's approval → the customer's portal page: ${params.decisions} customers (after ${params.warmup} warm-up); goal < 1000 ms`,
    row('', 'p50 ms', 'p95 ms', 'max ms', 'n'),
    line('approve answered (the decide Update)', d.answer, d.p95.answer),
    line('answer → open page shows approved', d.livePage, d.p95.livePage),
    line('request sent → open page shows approved', d.livePageFromRequest, d.p95.livePageFromRequest),
    line('page opened after it → shows approved', d.freshPage, d.p95.freshPage),
    '',
    ...notes.map((x) => `  ${x}`),
    '',
  ].join('\n');
}
