/**
 * `npm run bench:payments [-- options]` (see USAGE): how fast the Stripe webhook endpoint answers,
 * and how soon a payment brings a suspended service back.
 *
 * Acknowledgement: the real API over HTTP on the real stack; the organization has Stripe keys;
 * each round sends C signed `payment_intent.succeeded` events at once (each its own event and
 * PaymentIntent, signed with the stripe package's `generateTestHeaderString`), then one event C
 * times at once (one is taken, the rest are duplicates). Reports acknowledgement p50/p99 of each
 * (goal p99 < 200 ms under 50 concurrent deliveries), checks that every distinct event was
 * recorded once, and how long after the last answer every recorded event had been handed to its
 * run; beside them, the API process's event-loop delay, Postgres pool waits and CPU time. After
 * each, the same deliveries go to a bare endpoint (node:http, pg, the same check and claim) in the
 * same process: the ratio to it is what compares across runs on a shared machine.
 *
 * Payment → running: N customers whose service is a running VM on the Proxmox simulator, their
 * invoices issued by a billing run and overdue at once, the ladder's day-0 step suspending each
 * VM (stopped on the simulator). Then, one invoice at a time, a PaymentIntent for it ("Pay now"'s
 * checkout, against a stripe-mock whose PaymentIntents read back succeeded) and its signed
 * webhook; the figure is from the delivery until the simulator reports the VM running (goal p95
 * < 10 s).
 */
import { startCheckout } from '@keelson/activities/payments/checkout';
import { localDate, periodAt } from '@keelson/activities/billing/periods';
import { encryptSecret, parseKeyRing } from '@keelson/common/codec';
import { BillingOperation, WorkflowType } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { connectDb } from '@keelson/db';
import { billingSettings, customerContacts, customers, dunningSettings, guests, invoices, payments, planPrices, plans, products, proxmoxClusters, smtpSettings, stripeEvents, stripeSettings, subscriptions } from '@keelson/db/schema';
import { startProxmoxSim } from '@keelson/proxmox-sim';
import { and, eq, isNotNull, sql } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { API_DB_POOL_SIZE } from '@keelson/api/deps';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import Stripe from 'stripe';
import { startSmtpReceiver } from '../test/smtp';
import { startSettledStripeMock } from '../test/stripe-mock';
import { spawnWorkerProcess, startBenchPlatform, type WorkerProcess } from './platform';
import { percentile, round, summarize } from './stats';

const USAGE = `usage: npm run bench:payments -- [options]
  --rounds R            rounds of C distinct events, then one event C times          default 10
  --concurrency C       deliveries at once                                           default 50
  --restores N          suspended VMs brought back by a payment, one after another   default 10
  --time-scale T        the Proxmox simulator's time scale while they come back      default 1
  --stripe-mock-port P  port of the bench's stripe-mock                              default 12121
  --worker W            'process' (its own, as in production) or 'in-process'        default process
  --profile FILE        write a CPU profile of this process (API and client) during the rounds`;

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '50' },
    restores: { type: 'string', default: '10' },
    'time-scale': { type: 'string', default: '1' },
    'stripe-mock-port': { type: 'string', default: '12121' },
    worker: { type: 'string', default: 'process' },
    profile: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const int = (name: 'rounds' | 'concurrency' | 'restores' | 'stripe-mock-port', min: number) => {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < min) {
    console.error(`bench:payments: --${name} must be an integer ≥ ${min}\n${USAGE}`);
    process.exit(2);
  }
  return v;
};
const ROUNDS = int('rounds', 1);
const C = int('concurrency', 1);
const RESTORES = int('restores', 0);
const STRIPE_MOCK_PORT = int('stripe-mock-port', 1);
const TIME_SCALE = Number(values['time-scale']);
const WORKER = values.worker;
if (!(TIME_SCALE >= 0) || (WORKER !== 'process' && WORKER !== 'in-process')) {
  console.error(`bench:payments: --time-scale must be a number ≥ 0 and --worker 'process' or 'in-process'\n${USAGE}`);
  process.exit(2);
}
const SECRET = 'whsec_benchSigningSecret0123456789';
/** The plan's monthly price, no tax: each invoice's total, and what stripe-mock's PaymentIntents read back. */
const PRICE_MINOR = 2500;
/** A ladder day in the worker: the suspend step is on day 0, so it only sets the pace of nothing else. */
const DUNNING_DAY_MS = 1000;
const TOKEN_ID = 'root@pam!keelson';
const TEMPLATE_VMID = 9000;
const log = (msg: string) => process.stderr.write(`bench:payments │ ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const stripeMock = await startSettledStripeMock({ amountMinor: PRICE_MINOR, currency: 'EUR' }, { port: STRIPE_MOCK_PORT });
const stripeApi = { stripeApiUrl: stripeMock.url };
const platform = await startBenchPlatform(WORKER === 'process' ? { coreWorker: false, payments: stripeApi } : { payments: stripeApi, billing: { dunningDayMs: DUNNING_DAY_MS } });
const { db, close } = connectDb(platform.dbUrl, { max: 4 });
const smtp = await startSmtpReceiver();
const simDir = await mkdtemp(join(tmpdir(), 'keelson-bench-payments-sim-'));
const sim = await startProxmoxSim({ stateDir: simDir, timeScale: 0.02, tokens: [{ tokenid: TOKEN_ID }] });
let worker: WorkerProcess | undefined;
const signer = new Stripe('sk_test_bench_signing_only');
try {
  if (WORKER === 'process') {
    log('starting the worker process…');
    worker = spawnWorkerProcess(platform, { KEELSON_STRIPE_API_URL: stripeMock.url, KEELSON_DUNNING_DAY_MS: String(DUNNING_DAY_MS) });
    await worker.ready;
  }
  const tenantId = platform.tenantId;
  const keys = parseKeyRing(platform.keySpec);
  await db.insert(stripeSettings).values({ tenantId, secretKeySealed: encryptSecret(keys, 'sk_test_bench0123456789'), secretKeyHint: '6789', webhookSecretSealed: encryptSecret(keys, SECRET) });
  const url = `${platform.baseUrl}/api/webhooks/stripe/${tenantId}`;
  const event = (pi: string) =>
    JSON.stringify({ id: `evt_${randomUUID().replaceAll('-', '')}`, object: 'event', type: 'payment_intent.succeeded', created: Math.floor(Date.now() / 1000), livemode: false, data: { object: { id: pi, object: 'payment_intent', status: 'succeeded', amount: PRICE_MINOR, currency: 'eur' } } });
  const deliver = (payload: string) => deliverTo(url, payload);

  // The floor on this machine, measured in the same rounds: a bare node:http server with a pg pool
  // of the API's size that verifies the same signature and claims the event id with one insert.
  const raw = await startRawWebhookServer(platform.dbUrl, SECRET);
  const deliverTo = async (target: string, payload: string) => {
    const started = performance.now();
    const res = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signer.webhooks.generateTestHeaderString({ payload, secret: SECRET }) }, body: payload });
    const body = (await res.json()) as { outcome: string };
    return { ms: performance.now() - started, status: res.status, outcome: body.outcome };
  };

  // ── Acknowledgement under C concurrent deliveries ──
  // Warm-up: the first request pays for connections and JIT.
  await deliver(event(`pi_warm_${randomUUID().slice(0, 8)}`));
  await deliverTo(raw.url, event('pi_warm_raw'));
  const rawDistinct: number[] = [];
  const rawDuplicates: number[] = [];
  const distinct: number[] = [];
  const duplicates: number[] = [];
  const outcomes: Record<string, number> = {};
  // What the API process went through during the rounds: its event loop's delay, the requests
  // waiting for a Postgres connection, and the CPU time it used (the bench's client included).
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  const poolWaiting: number[] = [];
  const sampler = setInterval(() => poolWaiting.push(platform.apiPool.waitingCount), 5);
  const loadBefore = loadavg();
  const cpuBefore = process.cpuUsage();
  const roundsStarted = performance.now();
  loopDelay.enable();
  const profiler = values.profile ? new Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }
  for (let r = 0; r < ROUNDS; r++) {
    const results = await Promise.all(Array.from({ length: C }, () => deliver(event(`pi_${randomUUID().replaceAll('-', '').slice(0, 24)}`))));
    for (const x of results) {
      distinct.push(x.ms);
      outcomes[`${x.status} ${x.outcome}`] = (outcomes[`${x.status} ${x.outcome}`] ?? 0) + 1;
    }
    const same = event(`pi_same_${r}`);
    const dup = await Promise.all(Array.from({ length: C }, () => deliver(same)));
    for (const x of dup) {
      duplicates.push(x.ms);
      outcomes[`${x.status} ${x.outcome}`] = (outcomes[`${x.status} ${x.outcome}`] ?? 0) + 1;
    }
    // The same two deliveries against the bare server, right after (the machine as it is now).
    rawDistinct.push(...(await Promise.all(Array.from({ length: C }, () => deliverTo(raw.url, event(`pi_raw_${randomUUID().replaceAll('-', '').slice(0, 20)}`))))).map((x) => x.ms));
    const rawSame = event(`pi_raw_same_${r}`);
    rawDuplicates.push(...(await Promise.all(Array.from({ length: C }, () => deliverTo(raw.url, rawSame)))).map((x) => x.ms));
    log(`round ${r + 1}/${ROUNDS}`);
  }
  loopDelay.disable();
  clearInterval(sampler);
  if (profiler) {
    const { profile } = await profiler.post('Profiler.stop');
    await writeFile(values.profile!, JSON.stringify(profile));
    profiler.disconnect();
    log(`CPU profile of the rounds: ${values.profile}`);
  }
  const roundsMs = performance.now() - roundsStarted;
  const cpu = process.cpuUsage(cpuBefore);
  const loadAfter = loadavg();
  const [recorded] = await db.select({ n: sql<number>`count(*)::int` }).from(stripeEvents).where(eq(stripeEvents.tenantId, tenantId));
  // Answered before the hand-over: how long until every recorded event was handed to its run.
  const answeredAt = performance.now();
  let pending = -1;
  while (performance.now() - answeredAt < 120_000) {
    const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(stripeEvents).where(and(eq(stripeEvents.tenantId, tenantId), eq(stripeEvents.handOffPending, true)));
    pending = row!.n;
    if (pending === 0) break;
    await sleep(200);
  }
  const handOffDrainMs = performance.now() - answeredAt;
  await raw.close();
  const a = summarize(distinct);
  const d = summarize(duplicates);
  const ra = summarize(rawDistinct);
  const rd = summarize(rawDuplicates);
  const acknowledgement = {
    concurrency: C,
    rounds: ROUNDS,
    distinctEventsAckMs: { p50: round(a.p50), p99: round(a.p99), samples: a.samples },
    sameEventAckMs: { p50: round(d.p50), p99: round(d.p99), samples: d.samples },
    goalP99Ms: 200,
    rawServer: { distinctEventsAckMs: { p50: round(ra.p50), p99: round(ra.p99) }, sameEventAckMs: { p50: round(rd.p50), p99: round(rd.p99) } },
    ratioToRaw: { distinctP50: round(a.p50 / ra.p50), distinctP99: round(a.p99 / ra.p99), sameP50: round(d.p50 / rd.p50), sameP99: round(d.p99 / rd.p99) },
    outcomes,
    eventsRecorded: recorded!.n,
    eventsExpected: 1 + ROUNDS * C + ROUNDS,
    eventsStillPendingHandOff: pending,
    handOffDrainedMsAfterLastAnswer: round(handOffDrainMs),
    apiProcess: {
      eventLoopDelayMs: { p50: round(loopDelay.percentile(50) / 1e6), p99: round(loopDelay.percentile(99) / 1e6), max: round(loopDelay.max / 1e6) },
      poolWaiting: { max: Math.max(0, ...poolWaiting), mean: round(poolWaiting.reduce((x, y) => x + y, 0) / Math.max(1, poolWaiting.length)) },
      // Every delivery of the rounds: Keelson's and the bare endpoint's, both served and sent here.
      cpuMsPerDelivery: round((cpu.user + cpu.system) / 1000 / (4 * ROUNDS * C)),
      cpuShareOfOneCore: round((cpu.user + cpu.system) / 1000 / roundsMs),
    },
    loadAverage: { before: loadBefore.map((v) => round(v)), after: loadAfter.map((v) => round(v)) },
  };
  log(`acknowledgement: distinct p99 ${acknowledgement.distinctEventsAckMs.p99} ms, same event p99 ${acknowledgement.sameEventAckMs.p99} ms`);

  // ── Payment → services running again ──
  const restore = RESTORES > 0 ? await measureRestores(tenantId, keys, deliver, event) : null;

  console.log(JSON.stringify({ acknowledgement, paymentToRunning: restore, worker: WORKER, notes: platform.notes }, null, 2));
} finally {
  await worker?.stop();
  await close();
  await smtp.close();
  await sim.close().catch(() => undefined);
  await rm(simDir, { recursive: true, force: true });
  await platform.close();
  await stripeMock.close();
}

/**
 * The raw baseline: what any webhook endpoint on this machine pays for the same guarantees — the
 * signature checked on the raw body with the stripe package, then the event id claimed by a unique
 * key in one committed insert — on a bare node:http server and a pg pool of the API's size, with
 * no framework, no middleware and no hand-over.
 */
async function startRawWebhookServer(dbUrl: string, secret: string) {
  const pool = new pg.Pool({ connectionString: dbUrl, max: API_DB_POOL_SIZE });
  await pool.query('create table bench_raw_events (event_id text primary key, type text not null, received_at timestamptz not null default now())');
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = (status: number, outcome: string) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ outcome }));
      };
      let parsed: Stripe.Event;
      try {
        parsed = Stripe.webhooks.constructEvent(Buffer.concat(chunks), String(req.headers['stripe-signature']), secret, 300);
      } catch {
        return answer(400, 'rejected');
      }
      pool.query('insert into bench_raw_events (event_id, type) values ($1, $2) on conflict do nothing returning event_id', [parsed.id, parsed.type]).then(
        (r) => answer(200, r.rowCount ? 'accepted' : 'duplicate'),
        () => answer(500, 'error'),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await pool.end();
    },
  };
}

async function measureRestores(
  tenantId: string,
  keys: ReturnType<typeof parseKeyRing>,
  deliver: (payload: string) => Promise<{ ms: number; status: number; outcome: string }>,
  event: (pi: string) => string,
) {
  const token = sim.tokens[0]!;
  const pve = async (method: string, path: string, form: Record<string, string>) => {
    const res = await sim.fetch(`${sim.url}/api2/json${path}`, {
      method,
      headers: { authorization: `PVEAPIToken=${TOKEN_ID}=${token.secret}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  };
  const waitFor = async <T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 100): Promise<T> => {
    for (const deadline = Date.now() + timeoutMs; ; ) {
      const v = await check();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(everyMs);
    }
  };
  const guestStatus = async () => new Map((await sim.control.state()).guests.map((g) => [g.vmid, g.status]));

  log(`setting up ${RESTORES} customers whose service is a running VM on the simulator…`);
  const address = { line1: '1 Bench St', line2: null, postalCode: '10115', city: 'Berlin', region: null, country: 'DE' };
  await db.insert(billingSettings).values({ tenantId, legalName: 'Bench Hosting Ltd', paymentTermsDays: 0, address });
  await db.insert(smtpSettings).values({ tenantId, host: '127.0.0.1', port: smtp.port, security: 'none', fromAddress: 'billing@bench.test' });
  // Day 0: the ladder suspends the service as soon as the invoice is issued (due the same day).
  await db.insert(dunningSettings).values({ tenantId, enabled: true, ladder: [{ day: 0, kind: 'suspend' }], terminationApproval: true });
  const [cluster] = await db
    .insert(proxmoxClusters)
    .values({ tenantId, name: 'bench-sim', url: sim.url, tokenId: TOKEN_ID, tokenSecretSealed: encryptSecret(keys, token.secret), caPem: sim.caPem, fingerprint: sim.fingerprint, defaultTemplateVmid: TEMPLATE_VMID })
    .returning({ id: proxmoxClusters.id });
  const [product] = await db.insert(products).values({ tenantId, name: 'VPS' }).returning();
  const [plan] = await db.insert(plans).values({ tenantId, productId: product!.id, name: 'S', currency: 'EUR', provisioning: { kind: 'service' } }).returning();
  await db.insert(planPrices).values({ planId: plan!.id, cycle: 'monthly', amountMinor: PRICE_MINOR });
  const startedAt = new Date(Date.now() - 2 * 86_400_000);
  const services: Array<{ vmid: number; subscriptionId: string; email: string }> = [];
  for (let i = 0; i < RESTORES; i++) {
    const vmid = 300 + i;
    await pve('POST', `/nodes/pve/qemu/${TEMPLATE_VMID}/clone`, { newid: String(vmid), name: `vm-${vmid}`, full: '1' });
    await waitFor('the clone', async () => (await sim.control.state()).guests.some((g) => g.vmid === vmid && !g.lock), 60_000, 50);
    await pve('POST', `/nodes/pve/qemu/${vmid}/status/start`, {});
    await waitFor('the VM running', async () => (await guestStatus()).get(vmid) === 'running', 60_000, 50);
    const [guest] = await db
      .insert(guests)
      .values({ tenantId, clusterId: cluster!.id, kind: 'qemu', name: `vm-${vmid}`, vmid, node: 'pve', cores: 1, memoryMiB: 512, adminUser: 'ops', state: 'running', workflowId: `bench/vm-${vmid}` })
      .returning({ id: guests.id });
    const [customer] = await db.insert(customers).values({ tenantId, kind: 'individual', name: `Customer ${i}`, address, country: 'DE', currency: 'EUR', timeZone: 'Europe/Berlin' }).returning({ id: customers.id, timeZone: customers.timeZone });
    const email = `c${i}@bench.test`;
    await db.insert(customerContacts).values({ tenantId, customerId: customer!.id, name: `Customer ${i}`, email, isBilling: true });
    const anchorDate = localDate(startedAt, customer!.timeZone);
    const [sub] = await db
      .insert(subscriptions)
      .values({ tenantId, customerId: customer!.id, planId: plan!.id, cycle: 'monthly', status: 'active', unitPriceMinor: PRICE_MINOR, currency: 'EUR', timeZone: customer!.timeZone, anchorDate, nextPeriodStart: periodAt(anchorDate, 'monthly', customer!.timeZone, 0).start, resource: `proxmox-guest:${guest!.id}` })
      .returning({ id: subscriptions.id });
    services.push({ vmid, subscriptionId: sub!.id, email });
  }

  log('issuing their invoices (billing run); the ladder suspends each VM…');
  const billingRun = await platform.client.workflow.start(WorkflowType.billingRun, {
    taskQueue: platform.coreTaskQueue,
    workflowId: `billing-run/${tenantId}/bench-payments`,
    args: [{ tenantId, actor: platform.actor, batchSize: 250, parallel: 4, email: false }],
    typedSearchAttributes: runSearchAttributes({ tenantId, operation: BillingOperation.run, resources: [], actor: platform.actor }),
  });
  await billingRun.result();
  const issued = await db
    .select({ id: invoices.id, subscriptionId: invoices.subscriptionId, totalMinor: invoices.totalMinor })
    .from(invoices)
    .where(and(eq(invoices.tenantId, tenantId), isNotNull(invoices.number)));
  if (issued.length !== RESTORES || issued.some((inv) => inv.totalMinor !== PRICE_MINOR)) throw new Error(`expected ${RESTORES} invoices of ${PRICE_MINOR}, got ${JSON.stringify(issued.map((inv) => inv.totalMinor))}`);
  await waitFor('every VM stopped by its suspension', async () => {
    const status = await guestStatus();
    return services.every((s) => status.get(s.vmid) === 'stopped');
  }, 300_000, 250);
  // The simulator's durations while the services come back (a VM start takes 1.2 s at scale 1).
  await sim.control.setTimeScale(TIME_SCALE);

  log(`paying ${RESTORES} overdue invoices one after another (simulator time scale ${TIME_SCALE})…`);
  const toRunning: number[] = [];
  const toPaid: number[] = [];
  const acks: number[] = [];
  for (const s of services) {
    const inv = issued.find((x) => x.subscriptionId === s.subscriptionId)!;
    // "Pay now": the PaymentIntent and Keelson's attempt row, before the customer's card is charged.
    const checkout = await startCheckout({ db, keys, stripeApiUrl: stripeMock.url }, tenantId, inv.id);
    const started = performance.now();
    const [ack, paidMs, runningMs] = await Promise.all([
      deliver(event(checkout.paymentIntentId)),
      waitFor('the invoice paid', async () => {
        const [row] = await db.select({ status: invoices.status }).from(invoices).where(eq(invoices.id, inv.id));
        return row?.status === 'paid' && performance.now() - started;
      }, 120_000, 25),
      waitFor('the VM running again', async () => (await guestStatus()).get(s.vmid) === 'running' && performance.now() - started, 120_000, 25),
    ]);
    if (ack.status !== 200 || ack.outcome !== 'accepted') throw new Error(`the webhook answered ${ack.status} ${ack.outcome}`);
    acks.push(ack.ms);
    toPaid.push(paidMs);
    toRunning.push(runningMs);
    log(`VM ${s.vmid} running again ${Math.round(runningMs)} ms after its payment's webhook`);
  }
  // Each payment once, each receipt once, each VM stopped once and started once.
  await sleep(3000);
  const state = await sim.control.state();
  const done = (vmid: number, ...types: string[]) => state.tasks.filter((t) => types.includes(t.type) && t.id === String(vmid) && t.status === 'stopped' && t.exitstatus === 'OK').length;
  const [paymentRows] = await db.select({ n: sql<number>`count(*)::int` }).from(payments).where(eq(payments.tenantId, tenantId));
  const sorted = (xs: number[]) => [...xs].sort((x, y) => x - y);
  const r = sorted(toRunning);
  const pd = sorted(toPaid);
  return {
    restores: RESTORES,
    simulatorTimeScale: TIME_SCALE,
    webhookToRunningMs: { p50: round(percentile(r, 50)), p95: round(percentile(r, 95)), max: round(r.at(-1)!), samples: r.length },
    goalP95Ms: 10_000,
    webhookToInvoicePaidMs: { p50: round(percentile(pd, 50)), p95: round(percentile(pd, 95)) },
    webhookAckMs: { p50: round(percentile(sorted(acks), 50)), max: round(Math.max(...acks)) },
    paymentsRecorded: paymentRows!.n,
    receiptsReceived: smtp.messages.filter((m) => m.subject.startsWith('Payment received')).length,
    vmsStoppedOnceStartedOnce: services.filter((s) => done(s.vmid, 'qmshutdown', 'qmstop') === 1 && done(s.vmid, 'qmstart') === 2).length,
    loadAverage: loadavg().map((v) => round(v)),
  };
}
