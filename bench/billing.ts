/**
 * `npm run bench:billing [-- --subscriptions N --batch B]`: a billing run over N due subscriptions
 * (default 10,000) on the real stack (Temporal, Postgres, the core worker with Keelson's billing
 * activities). Reports the time until every invoice is finalized (goal < 120 s) and until every
 * PDF is rendered, PDF render p50/p99, and invoices/s against a plain SQL insert loop of the
 * same invoice rows (one INSERT per row, rolled back).
 */
import { invoiceDocuments } from '@keelson/activities/billing/documents';
import { localDate, periodAt } from '@keelson/activities/billing/periods';
import { renderBillingPdf } from '@keelson/activities/billing/pdf';
import { BillingOperation, WorkflowType } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { connectDb } from '@keelson/db';
import { billingSettings, customerContacts, customers, invoices, planPrices, plans, products, subscriptions } from '@keelson/db/schema';
import { and, eq, isNotNull, sql } from 'drizzle-orm';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { startBenchPlatform } from './platform';
import { round, summarize } from './stats';

const { values } = parseArgs({ options: { subscriptions: { type: 'string', default: '10000' }, batch: { type: 'string', default: '250' }, parallel: { type: 'string', default: '4' } } });
const N = Number(values.subscriptions);
const BATCH = Number(values.batch);
const PARALLEL = Number(values.parallel);
const log = (msg: string) => process.stderr.write(`bench:billing │ ${msg}\n`);

const platform = await startBenchPlatform();
const { db, close } = connectDb(platform.dbUrl, { max: 4 });
try {
  const tenantId = platform.tenantId;
  await db.insert(billingSettings).values({ tenantId, legalName: 'Bench Hosting Ltd', address: { line1: '1 Bench St', line2: null, postalCode: '10115', city: 'Berlin', region: null, country: 'DE' } });
  const [product] = await db.insert(products).values({ tenantId, name: 'VPS' }).returning();
  const [plan] = await db.insert(plans).values({ tenantId, productId: product!.id, name: 'S', currency: 'EUR', provisioning: { kind: 'service' } }).returning();
  await db.insert(planPrices).values({ planId: plan!.id, cycle: 'monthly', amountMinor: 990 });

  // N customers with one subscription each, all with their first period due now.
  const zones = ['Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'UTC'];
  const started = new Date(Date.now() - 86_400_000);
  log(`seeding ${N} customers and subscriptions`);
  for (let i = 0; i < N; i += 1000) {
    const chunk = Array.from({ length: Math.min(1000, N - i) }, (_, j) => i + j);
    const rows = await db
      .insert(customers)
      .values(chunk.map((k) => ({ tenantId, kind: 'individual' as const, name: `Customer ${k} Żółć`, address: { line1: `${k} Main St`, line2: null, postalCode: '10115', city: 'Berlin', region: null, country: 'DE' }, country: 'DE', currency: 'EUR', timeZone: zones[k % zones.length]! })))
      .returning({ id: customers.id, timeZone: customers.timeZone });
    await db.insert(customerContacts).values(rows.map((c, k) => ({ tenantId, customerId: c.id, name: `Customer ${i + k}`, email: `c${i + k}@bench.test`, isBilling: true })));
    await db.insert(subscriptions).values(
      rows.map((c) => {
        const anchorDate = localDate(started, c.timeZone);
        return { tenantId, customerId: c.id, planId: plan!.id, cycle: 'monthly' as const, status: 'active' as const, unitPriceMinor: 990, currency: 'EUR', timeZone: c.timeZone, anchorDate, nextPeriodStart: periodAt(anchorDate, 'monthly', c.timeZone, 0).start };
      }),
    );
  }

  const count = async (where: ReturnType<typeof and>) => (await db.select({ n: sql<number>`count(*)::int` }).from(invoices).where(where))[0]!.n;
  // The machine is shared: the 1-minute load average as the run starts, at "all finalized" and at "all rendered".
  const load = () => Math.round(loadavg()[0]! * 100) / 100;
  const loads: Record<string, number> = { atStart: load() };
  const t0 = performance.now();
  const run = await platform.client.workflow.start(WorkflowType.billingRun, {
    taskQueue: platform.coreTaskQueue,
    workflowId: `billing-run/${tenantId}/bench`,
    args: [{ tenantId, actor: platform.actor, batchSize: BATCH, parallel: PARALLEL, email: false }],
    typedSearchAttributes: runSearchAttributes({ tenantId, operation: BillingOperation.run, resources: [], actor: platform.actor }),
  });
  let finalizedMs = NaN;
  let renderedMs = NaN;
  for (;;) {
    const finalized = await count(and(eq(invoices.tenantId, tenantId), isNotNull(invoices.number)));
    const rendered = await count(and(eq(invoices.tenantId, tenantId), isNotNull(invoices.pdfFileId)));
    if (Number.isNaN(finalizedMs) && finalized >= N) {
      finalizedMs = performance.now() - t0;
      loads.atAllFinalized = load();
    }
    if (rendered >= N) {
      renderedMs = performance.now() - t0;
      break;
    }
    if (performance.now() - t0 > 3_600_000) throw new Error(`gave up after an hour: ${finalized} finalized, ${rendered} rendered`);
    await new Promise((r) => setTimeout(r, 500));
  }
  log(`finalized ${N} in ${round(finalizedMs / 1000)} s, rendered in ${round(renderedMs / 1000)} s`);
  loads.atAllRendered = load();
  // What the run carries in its history by then (its current execution's, after any
  // continue-as-new); it goes on starting the invoices' dunning ladders, which this bench does not wait for.
  const described = await platform.client.workflow.getHandle(run.workflowId).describe();

  // PDF render times, measured in this process on a sample of the invoices just issued.
  const sample = await db.select({ id: invoices.id }).from(invoices).where(eq(invoices.tenantId, tenantId)).limit(200);
  const docs = await invoiceDocuments(db, tenantId, sample.map((s) => s.id));
  const renderTimes: number[] = [];
  for (const doc of docs.values()) {
    const s = performance.now();
    await renderBillingPdf(doc);
    renderTimes.push(performance.now() - s);
  }

  // The same invoice rows, one INSERT each, in a transaction that is rolled back.
  const rows = await db.select().from(invoices).where(eq(invoices.tenantId, tenantId));
  let plainMs = NaN;
  await db
    .transaction(async (tx) => {
      const s = performance.now();
      for (const r of rows) {
        await tx.insert(invoices).values({ ...r, id: undefined, key: `plain/${r.id}`, subscriptionId: null, periodStart: null, series: 'PLAIN', number: `PLAIN-${r.sequence}`, pdfFileId: null });
      }
      plainMs = performance.now() - s;
      tx.rollback();
    })
    .catch((err: Error) => {
      if (!/rollback/i.test(err.message)) throw err;
    });

  const render = summarize(renderTimes);
  const summary = {
    subscriptions: N,
    batchSize: BATCH,
    parallelChildren: PARALLEL,
    secondsToAllFinalized: round(finalizedMs / 1000),
    goalSecondsToAllFinalized: 120,
    secondsToAllPdfsRendered: round(renderedMs / 1000),
    runHistoryAtAllRendered: { events: described.historyLength, bytes: described.historySize ?? null },
    pdfRenderMs: { p50: round(render.p50), p99: round(render.p99), samples: render.samples },
    invoicesPerSecond: round(N / (finalizedMs / 1000)),
    plainInsertRowsPerSecond: round(rows.length / (plainMs / 1000)),
    ratioToPlainInserts: round(N / (finalizedMs / 1000) / (rows.length / (plainMs / 1000)), 3),
    loadAverage1m: loads,
    notes: platform.notes,
  };
  console.log(JSON.stringify(summary, null, 2));
} finally {
  await close();
  await platform.close();
}
