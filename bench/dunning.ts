/**
 * `npm run bench:dunning [-- --invoices N --day-ms D]`: N unpaid invoices (default 1,000) whose
 * dunning ladders all start at once, on the real stack: Temporal, Postgres, Keelson's worker in a
 * process of its own (workers/src/main.ts with KEELSON_DUNNING_DAY_MS), the organization's SMTP
 * server a real receiver. Reports the time until every ladder has done every step (each email
 * delivered exactly once at the receiver), how late the steps ran against their planned time, and
 * the worker's CPU time and resident memory. See bench/README.md.
 */
import { BillingOperation, DunningOperation, WorkflowId, WorkflowType, resourceRef } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { connectDb } from '@keelson/db';
import { billingSettings, customerContacts, customers, dunningSettings, dunningSteps, invoices, planPrices, plans, products, smtpSettings, subscriptions } from '@keelson/db/schema';
import { localDate, periodAt } from '@keelson/activities/billing/periods';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { and, eq, isNotNull, sql } from 'drizzle-orm';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startSmtpReceiver } from '../test/smtp';
import { processUsage, spawnWorkerProcess, startBenchPlatform, terminateAll, type WorkerProcess } from './platform';
import { round, summarize } from './stats';

const USAGE = `usage: npm run bench:dunning -- [options]
  --invoices N     unpaid invoices whose ladders start at once          default 1000
  --day-ms D       how long a ladder day lasts (KEELSON_DUNNING_DAY_MS) default 1000
  --concurrency C  ladder starts in flight                              default 32
  --recheck-ms R   how often a ladder with every step done re-reads its
                   invoice (KEELSON_DUNNING_RECHECK_MS)                 default one ladder day
  --cpu-prof DIR   write a CPU profile of the worker process into DIR (node --cpu-prof)`;

const { values } = parseArgs({
  options: {
    invoices: { type: 'string', default: '1000' },
    'day-ms': { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '32' },
    'cpu-prof': { type: 'string' },
    'recheck-ms': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const int = (name: 'invoices' | 'day-ms' | 'concurrency' | 'recheck-ms', min: number) => {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < min) {
    console.error(`bench:dunning: --${name} must be an integer ≥ ${min}\n${USAGE}`);
    process.exit(2);
  }
  return v;
};
const N = int('invoices', 1);
const DAY_MS = int('day-ms', 100);
const CONCURRENCY = int('concurrency', 1);
const RECHECK_MS = values['recheck-ms'] === undefined ? DAY_MS : int('recheck-ms', 100);
/** Three emails and a suspension (skipped: these invoices have no service) per invoice. */
const LADDER = [
  { day: 0, kind: 'reminder' as const },
  { day: 3, kind: 'reminder' as const },
  { day: 7, kind: 'final_notice' as const },
  { day: 10, kind: 'suspend' as const },
];
const EMAILS_PER_INVOICE = LADDER.filter((r) => r.kind !== 'suspend').length;
const log = (msg: string) => process.stderr.write(`bench:dunning │ ${msg}\n`);

const platform = await startBenchPlatform({ coreWorker: false });
const smtp = await startSmtpReceiver();
const { db, close } = connectDb(platform.dbUrl, { max: 4 });
let worker: WorkerProcess | undefined;
const stopAll = async () => {
  await terminateAll(platform.client, `TaskQueue = '${platform.coreTaskQueue}' AND ExecutionStatus = 'Running'`).catch((err: Error) => log(`terminating the runs: ${err.message}`));
  await worker?.stop();
  await close();
  await smtp.close();
  await platform.close();
};
process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));

try {
  const tenantId = platform.tenantId;
  const count = async (table: typeof invoices | typeof dunningSteps, where: ReturnType<typeof and>) => (await db.select({ n: sql<number>`count(*)::int` }).from(table).where(where))[0]!.n;
  await db.insert(billingSettings).values({ tenantId, legalName: 'Bench Hosting Ltd', paymentTermsDays: 0, address: { line1: '1 Bench St', line2: null, postalCode: '10115', city: 'Berlin', region: null, country: 'DE' } });
  await db.insert(smtpSettings).values({ tenantId, host: '127.0.0.1', port: smtp.port, security: 'none', fromAddress: 'billing@bench.test' });
  // Off while the invoices are issued: their ladders start below, all at once.
  await db.insert(dunningSettings).values({ tenantId, enabled: false, ladder: LADDER, terminationApproval: true });
  const [product] = await db.insert(products).values({ tenantId, name: 'VPS' }).returning();
  const [plan] = await db.insert(plans).values({ tenantId, productId: product!.id, name: 'S', currency: 'EUR', provisioning: { kind: 'service' } }).returning();
  await db.insert(planPrices).values({ planId: plan!.id, cycle: 'monthly', amountMinor: 990 });
  log(`seeding ${N} customers and subscriptions`);
  const startedAt = new Date(Date.now() - 86_400_000);
  for (let i = 0; i < N; i += 1000) {
    const chunk = Array.from({ length: Math.min(1000, N - i) }, (_, j) => i + j);
    const rows = await db
      .insert(customers)
      .values(chunk.map((k) => ({ tenantId, kind: 'individual' as const, name: `Customer ${k}`, address: { line1: `${k} Main St`, line2: null, postalCode: '10115', city: 'Berlin', region: null, country: 'DE' }, country: 'DE', currency: 'EUR', timeZone: 'Europe/Berlin' })))
      .returning({ id: customers.id, timeZone: customers.timeZone });
    await db.insert(customerContacts).values(rows.map((c, k) => ({ tenantId, customerId: c.id, name: `Customer ${i + k}`, email: `c${i + k}@bench.test`, isBilling: true })));
    await db.insert(subscriptions).values(
      rows.map((c) => {
        const anchorDate = localDate(startedAt, c.timeZone);
        return { tenantId, customerId: c.id, planId: plan!.id, cycle: 'monthly' as const, status: 'active' as const, unitPriceMinor: 990, currency: 'EUR', timeZone: c.timeZone, anchorDate, nextPeriodStart: periodAt(anchorDate, 'monthly', c.timeZone, 0).start };
      }),
    );
  }

  log('starting the worker process…');
  // The worker serves its metrics (its heap, the SDK's task counts and cache) on metricsPort and
  // metricsPort + 1; the bench reads them during the run.
  const metricsPort = await freePortPair();
  worker = spawnWorkerProcess(platform, {
    KEELSON_DUNNING_DAY_MS: String(DAY_MS),
    KEELSON_DUNNING_RECHECK_MS: String(RECHECK_MS),
    KEELSON_WORKER_METRICS_PORT: String(metricsPort),
  }, values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-interval', '5000', '--cpu-prof-dir', resolve(values['cpu-prof'])] : []);
  await worker.ready;
  const pid = worker.pid;

  log(`issuing ${N} invoices (billing run, no invoice emails)…`);
  const billingRun = await platform.client.workflow.start(WorkflowType.billingRun, {
    taskQueue: platform.coreTaskQueue,
    workflowId: `billing-run/${tenantId}/bench-dunning`,
    args: [{ tenantId, actor: platform.actor, batchSize: 250, parallel: 4, email: false }],
    typedSearchAttributes: runSearchAttributes({ tenantId, operation: BillingOperation.run, resources: [], actor: platform.actor }),
  });
  // Done once every batch has issued its invoices and started their ladders (which end at once:
  // dunning is off until the figure starts).
  await billingRun.result();
  const issued = await count(invoices, and(eq(invoices.tenantId, tenantId), isNotNull(invoices.number)));
  if (issued < N) throw new Error(`the billing run issued ${issued} of ${N} invoices`);
  const unpaid = await db.select({ id: invoices.id, customerId: invoices.customerId }).from(invoices).where(and(eq(invoices.tenantId, tenantId), eq(invoices.status, 'finalized')));
  // Settle before the figure: the issuing run's own ladders end at once (dunning was off).
  await new Promise((r) => setTimeout(r, 5000));
  const before = processUsage(pid);
  const metricsBefore = await scrapeMetrics(metricsPort);
  const loadAtStart = loadAverage();
  let loadMaxOneMinute = 0;
  log(`worker at ${Math.round(before.rssMiB)} MiB; starting ${unpaid.length} ladders at once (a day is ${DAY_MS} ms)…`);

  await db.update(dunningSettings).set({ enabled: true }).where(eq(dunningSettings.tenantId, tenantId));
  const t0 = performance.now();
  const t0Date = new Date();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < unpaid.length) {
        const inv = unpaid[next++]!;
        const options = {
          taskQueue: platform.coreTaskQueue,
          workflowId: WorkflowId.dunning(inv.id),
          args: [{ tenantId, actor: platform.actor, invoiceId: inv.id }] as [unknown],
          typedSearchAttributes: runSearchAttributes({ tenantId, operation: DunningOperation.ladder, resources: [resourceRef('invoice', inv.id), resourceRef('customer', inv.customerId)], actor: platform.actor }),
        };
        // The issuing run's ladder of this invoice may not have ended yet (dunning was off: it
        // ends as soon as the worker takes it): wait for it, then start this one.
        for (let attempt = 0; ; attempt++) {
          try {
            await platform.client.workflow.start(WorkflowType.dunningLadder, options);
            break;
          } catch (err) {
            if (!(err instanceof WorkflowExecutionAlreadyStartedError) || attempt > 3) throw err;
            await platform.client.workflow.getHandle(options.workflowId).result();
          }
        }
      }
    }),
  );
  const startsMs = performance.now() - t0;
  log(`${unpaid.length} ladders started in ${round(startsMs / 1000)} s`);

  const stepsWanted = unpaid.length * LADDER.length;
  const emailsWanted = unpaid.length * EMAILS_PER_INVOICE;
  let peak = before.peakRssMiB;
  let maxRss = before.rssMiB;
  let allStepsMs = NaN;
  let allEmailsMs = NaN;
  let heapUsedMaxMiB = 0;
  let externalMaxMiB = 0;
  let stickyCacheMax = 0;
  let lastScrape = 0;
  for (const deadline = Date.now() + 1_800_000; ; ) {
    const u = processUsage(pid);
    maxRss = Math.max(maxRss, u.rssMiB);
    peak = Math.max(peak, u.peakRssMiB);
    if (Date.now() - lastScrape > 2000) {
      lastScrape = Date.now();
      const m = await scrapeMetrics(metricsPort);
      heapUsedMaxMiB = Math.max(heapUsedMaxMiB, (m.get('keelson_nodejs_heap_size_used_bytes') ?? 0) / 2 ** 20);
      externalMaxMiB = Math.max(externalMaxMiB, (m.get('keelson_nodejs_external_memory_bytes') ?? 0) / 2 ** 20);
      stickyCacheMax = Math.max(stickyCacheMax, m.get('temporal_sticky_cache_size') ?? 0);
      loadMaxOneMinute = Math.max(loadMaxOneMinute, Number(loadAverage().split(' ')[0]));
    }
    const done = await count(dunningSteps, and(eq(dunningSteps.tenantId, tenantId), isNotNull(dunningSteps.doneAt)));
    if (Number.isNaN(allStepsMs) && done >= stepsWanted) allStepsMs = performance.now() - t0;
    if (Number.isNaN(allEmailsMs) && smtp.messages.length >= emailsWanted) allEmailsMs = performance.now() - t0;
    if (!Number.isNaN(allStepsMs) && !Number.isNaN(allEmailsMs)) break;
    if (Date.now() > deadline) throw new Error(`after 30 minutes: ${done} of ${stepsWanted} steps done, ${smtp.messages.length} of ${emailsWanted} emails received`);
    await new Promise((r) => setTimeout(r, 500));
  }
  // A quiet moment: repeats would show up now, and the worker's memory once the work is done.
  await new Promise((r) => setTimeout(r, 5000));
  const after = processUsage(pid);
  peak = Math.max(peak, after.peakRssMiB);
  const metricsAfter = await scrapeMetrics(metricsPort);
  // What the worker did for the figure: the SDK's counts (workflow tasks, replays, activities,
  // sticky cache) and, for three ladders, what their histories hold.
  const sdk: Record<string, number | null> = {};
  for (const [name, v] of metricsAfter) {
    if (!/^temporal_.*(_total|_count)$/.test(name) || /_bucket$/.test(name)) continue;
    const delta = v - (metricsBefore.get(name) ?? 0);
    if (delta) sdk[name] = round(delta, 0);
  }
  for (const h of ['workflow_task_schedule_to_start_latency', 'workflow_task_execution_latency', 'workflow_task_replay_latency', 'activity_schedule_to_start_latency', 'activity_execution_latency']) {
    const sum = (metricsAfter.get(`temporal_${h}_sum`) ?? 0) - (metricsBefore.get(`temporal_${h}_sum`) ?? 0);
    const n = (metricsAfter.get(`temporal_${h}_count`) ?? 0) - (metricsBefore.get(`temporal_${h}_count`) ?? 0);
    if (n) sdk[`${h}_mean`] = round(sum / n, 4);
  }
  const histories: Array<Record<string, number>> = [];
  for (const inv of [unpaid[0]!, unpaid[Math.floor(unpaid.length / 2)]!, unpaid.at(-1)!]) {
    const history = await platform.client.workflow.getHandle(WorkflowId.dunning(inv.id)).fetchHistory();
    const kinds: Record<string, number> = { events: history.events?.length ?? 0 };
    for (const e of history.events ?? []) {
      if (e.workflowTaskCompletedEventAttributes) kinds.workflowTasks = (kinds.workflowTasks ?? 0) + 1;
      if (e.activityTaskScheduledEventAttributes) kinds.activities = (kinds.activities ?? 0) + 1;
      if (e.markerRecordedEventAttributes) kinds.localActivities = (kinds.localActivities ?? 0) + 1;
      if (e.timerStartedEventAttributes) kinds.timers = (kinds.timers ?? 0) + 1;
    }
    histories.push(kinds);
  }

  // How late each step ran: after its planned time, or after the ladders started when it was
  // already due then (these invoices were due before the ladders started).
  const steps = await db.select({ kind: dunningSteps.kind, outcome: dunningSteps.outcome, scheduledAt: dunningSteps.scheduledAt, doneAt: dunningSteps.doneAt }).from(dunningSteps).where(eq(dunningSteps.tenantId, tenantId));
  const lateness = steps.map((s) => s.doneAt!.getTime() - Math.max(s.scheduledAt.getTime(), t0Date.getTime()));
  const outcomes: Record<string, number> = {};
  for (const s of steps) outcomes[`${s.kind} ${s.outcome}`] = (outcomes[`${s.kind} ${s.outcome}`] ?? 0) + 1;
  const ids = smtp.messages.map((m) => m.messageId);
  const late = summarize(lateness);
  const mib = (v: number) => round(v, 0);
  const summary = {
    schema: 1,
    at: new Date().toISOString(),
    invoices: unpaid.length,
    ladder: LADDER,
    dayMs: DAY_MS,
    recheckMs: RECHECK_MS,
    ladderSpanSeconds: round((LADDER.at(-1)!.day * DAY_MS) / 1000, 1),
    startsSeconds: round(startsMs / 1000, 1),
    secondsToAllStepsDone: round(allStepsMs / 1000, 1),
    secondsToAllEmailsReceived: round(allEmailsMs / 1000, 1),
    stepLatenessMs: { p50: round(late.p50), p99: round(late.p99), max: round(late.max), samples: late.samples },
    outcomes,
    emails: { expected: emailsWanted, received: smtp.messages.length, distinctMessageIds: new Set(ids).size },
    worker: {
      cpuSeconds: round((after.cpuMs - before.cpuMs) / 1000, 1),
      rssBeforeMiB: mib(before.rssMiB),
      rssMaxSampledMiB: mib(maxRss),
      rssAfterMiB: mib(after.rssMiB),
      peakRssMiB: mib(peak),
      heapUsedMaxSampledMiB: mib(heapUsedMaxMiB),
      externalMaxSampledMiB: mib(externalMaxMiB),
      stickyCacheMax,
      sdk,
    },
    ladderHistories: histories,
    loadAverage: { atStart: loadAtStart, maxOneMinute: loadMaxOneMinute, atEnd: loadAverage() },
    machine: { cpus: cpus().length, memoryGiB: round(totalmem() / 1024 ** 3, 1), node: process.version },
    notes: platform.notes,
  };
  console.log(JSON.stringify(summary, null, 2));
} finally {
  await stopAll();
}

function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/** A port whose successor is free too (the worker serves the SDK's metrics on the next one). */
async function freePortPair(): Promise<number> {
  const listen = (port: number) =>
    new Promise<number | null>((done) => {
      const server = createServer();
      server.once('error', () => done(null));
      server.listen(port, '127.0.0.1', () => {
        const got = (server.address() as AddressInfo).port;
        server.close(() => done(got));
      });
    });
  for (;;) {
    const port = await listen(0);
    if (port && port < 65535 && (await listen(port + 1))) return port;
  }
}

/** The worker's `/metrics`, summed over labels, by name. */
async function scrapeMetrics(port: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()).catch(() => '');
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const v = Number(m[2]);
    if (Number.isFinite(v)) out.set(m[1]!, (out.get(m[1]!) ?? 0) + v);
  }
  return out;
}
