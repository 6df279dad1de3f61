/**
 * `npm run bench:monitoring`: monitoring's figures on the Proxmox simulator with in-memory guests
 * (no machines: the cluster's API, its usage numbers and the guest agent's /proc/meminfo are real
 * HTTP, the guests are not), a worker in its own process (so its CPU and memory are its own), the
 * API over HTTP and a real SMTP receiver:
 *   breach → email    from a guest's load pushed over a rule's threshold until its FIRING email
 *                     arrives, with the Schedules collecting and evaluating every --interval-ms
 *   evaluation        one round of 5 rules over --guests guests: time, worker CPU, worker memory
 *   collection        one round of the cluster (the same guests), for comparison
 *   ingest            samples written as the collector writes them (storeReadings), rows/s
 *   query             a day of one resource's points through GET /api/monitoring/resources/{id}/series
 * Progress on stderr; a table and, last, a one-line JSON summary on stdout (also in bench/results/).
 */
import { storeHistory, storeReadings, type ResourceReading } from '@keelson/activities/monitoring/store';
import { ensureMonitoringSchedules, deleteMonitoringSchedules } from '@keelson/activities';
import { WorkflowType } from '@keelson/common/constants';
import { connectDb } from '@keelson/db';
import { loadControl, MemoryGuests, startProxmoxSim } from '@keelson/proxmox-sim';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startSmtpReceiver } from '../test/smtp';
import { startBenchPlatform, processUsage, spawnWorkerProcess, type WorkerProcess } from './platform';
import { percentile, round } from './stats';

/** Where a collection round's time went, as the cluster's activity reports it. */
type CollectPhases = { resourcesMs: number; agentMs: number; storeMs: number; backfillMs: number };

const { values } = parseArgs({
  options: {
    guests: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '10' },
    breaches: { type: 'string', default: '20' },
    'interval-ms': { type: 'string', default: '5000' },
    'for-seconds': { type: 'string', default: '10' },
    'ingest-rounds': { type: 'string', default: '20' },
    queries: { type: 'string', default: '20' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(
    'usage: npm run bench:monitoring -- [--guests 1000] [--rounds 10 (evaluation rounds measured)] [--breaches 20 (breach → email samples)]\n' +
      '         [--interval-ms 5000 (collection and evaluation interval)] [--for-seconds 10 (the rule\'s for)] [--ingest-rounds 20] [--queries 20]',
  );
  process.exit(0);
}
const GUESTS = Number(values.guests);
const ROUNDS = Number(values.rounds);
const BREACHES = Math.min(Number(values.breaches), GUESTS);
const INTERVAL_MS = Number(values['interval-ms']);
const FOR_SECONDS = Number(values['for-seconds']);
const INGEST_ROUNDS = Number(values['ingest-rounds']);
const QUERIES = Number(values.queries);
const TOKEN_ID = 'root@pam!keelson';
const ONCALL = 'oncall@bench.test';
const FIRST_VMID = 1000;
const log = (msg: string) => process.stderr.write(`bench │ ${msg}\n`);
Runtime.install({ logger: new DefaultLogger('WARN') });

const p = await startBenchPlatform({ coreWorker: false, scopes: ['monitoring.read', 'alert.manage', 'mail.read', 'mail.manage'] });
const smtp = await startSmtpReceiver();
const stateDir = await mkdtemp(join(tmpdir(), 'keelson-bench-sim-'));
const sim = await startProxmoxSim({ stateDir, timeScale: 0, tokens: [{ tokenid: TOKEN_ID }], guests: new MemoryGuests(), layout: { nodes: [{ name: 'pve', cpus: 64, memoryGiB: 4096 }] } });
const load = loadControl(sim);
let worker: WorkerProcess | undefined;
const db = connectDb(p.dbUrl, { max: 4 });
const stopAll = async () => {
  await deleteMonitoringSchedules(p.client, p.coreTaskQueue).catch(() => undefined);
  await worker?.stop();
  await db.close();
  await p.close();
  await sim.close().catch(() => undefined);
  await smtp.close();
  await rm(stateDir, { recursive: true, force: true });
};
process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${p.baseUrl}${path}`, { method, headers: { ...p.auth, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

async function pve(method: string, path: string, params: Record<string, string | number> = {}) {
  const res = await sim.fetch(`${sim.url}/api2/json${path}`, {
    method,
    headers: { authorization: `PVEAPIToken=${TOKEN_ID}=${sim.tokens[0]!.secret}`, 'content-type': 'application/x-www-form-urlencoded' },
    ...(method === 'GET' ? {} : { body: new URLSearchParams(Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)]))) }),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${res.statusText}`);
  return ((await res.json()) as { data: unknown }).data;
}

async function until<T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function eachLimited<T>(items: T[], limit: number, task: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await task(items[next++]!);
  }));
}

try {
  await api('PUT', '/api/mail/smtp', { host: '127.0.0.1', port: smtp.port, security: 'none', fromAddress: 'alerts@bench.test', fromName: 'Bench alerts' });
  const clusterId = await p.addProxmoxCluster({ url: sim.url, tokenId: TOKEN_ID, tokenSecret: sim.tokens[0]!.secret, caPem: sim.caPem });

  log(`cloning and starting ${GUESTS} in-memory guests…`);
  const vmids = Array.from({ length: GUESTS }, (_, i) => FIRST_VMID + i);
  let cloned = 0;
  await eachLimited(vmids, 4, async (vmid) => {
    await pve('POST', '/nodes/pve/qemu/9000/clone', { newid: vmid, name: `guest-${vmid}` });
    await sim.control.waitIdle();
    await pve('POST', `/nodes/pve/qemu/${vmid}/status/start`);
    if (++cloned % 100 === 0) log(`  ${cloned} guests`);
  });
  await sim.control.waitIdle();

  log('starting the worker process…');
  worker = spawnWorkerProcess(p, { KEELSON_ALERT_EVALUATE_MS: String(INTERVAL_MS) });
  await worker.ready;
  const workerPid = worker.pid;

  // One collection round, measured, makes every guest a monitored resource.
  const collectRound = async () => {
    const before = processUsage(workerPid);
    const started = performance.now();
    const result = (await p.client.workflow.execute(WorkflowType.monitoringCollect, { taskQueue: p.coreTaskQueue, workflowId: `bench-collect-${randomBytes(4).toString('hex')}`, args: [{ nodeTimeoutMs: 10_000 }] })) as { clusters: Array<{ timings?: CollectPhases }> };
    return { ms: performance.now() - started, cpuMs: processUsage(workerPid).cpuMs - before.cpuMs, phases: result.clusters[0]?.timings };
  };
  log('first collection round (imports each guest\'s rrddata hour)…');
  log(`  ${Math.round((await collectRound()).ms)} ms`);
  const resources = await api<{ items: Array<{ id: string; name: string; kind: string }> }>('GET', '/api/monitoring/resources?kind=guest');
  if (resources.items.length < GUESTS) throw new Error(`only ${resources.items.length} of ${GUESTS} guests were collected`);
  const collections: Array<Awaited<ReturnType<typeof collectRound>>> = [];
  for (let i = 0; i < 3; i++) {
    collections.push(await collectRound());
    const { ms, phases } = collections.at(-1)!;
    log(`  collection round ${i + 1}: ${Math.round(ms)} ms (${phases ? Object.entries(phases).map(([k, v]) => `${k.replace(/Ms$/, '')} ${v} ms`).join(', ') : 'no phases'})`);
  }

  // Five rules over every guest of the cluster, as an operator would set them up.
  const scope = { type: 'cluster', clusterId };
  const base = { scope, forSeconds: FOR_SECONDS, repeatSeconds: 0, noData: 'ignore', emails: [ONCALL] };
  await api('POST', '/api/monitoring/rules', { ...base, name: 'CPU high', metric: 'cpu_percent', comparison: '>', threshold: 80, clearThreshold: 60, severity: 'critical' });
  await api('POST', '/api/monitoring/rules', { ...base, name: 'CPU busy', metric: 'cpu_percent', comparison: '>', threshold: 60, clearThreshold: 50, severity: 'warning', emails: [] });
  await api('POST', '/api/monitoring/rules', { ...base, name: 'Memory high', metric: 'memory_percent', comparison: '>', threshold: 90, clearThreshold: 80, severity: 'warning', emails: [] });
  await api('POST', '/api/monitoring/rules', { ...base, name: 'Network in', metric: 'net_in_bps', comparison: '>', threshold: 100_000_000, clearThreshold: 50_000_000, severity: 'info', emails: [] });
  await api('POST', '/api/monitoring/rules', { ...base, name: 'Disk writes', metric: 'disk_write_bps', comparison: '>', threshold: 200_000_000, clearThreshold: 100_000_000, severity: 'info', emails: [] });

  // Breach → email, with the Schedules at --interval-ms; breaches spread over two intervals.
  log(`breach → email: ${BREACHES} guests pushed over 80% CPU (for ${FOR_SECONDS} s, every ${INTERVAL_MS} ms)…`);
  await ensureMonitoringSchedules(p.client, { coreTaskQueue: p.coreTaskQueue, collectEveryMs: INTERVAL_MS, evaluateEveryMs: INTERVAL_MS, nodeTimeoutMs: INTERVAL_MS });
  const breachedAt = new Map<string, number>();
  const spread = (2 * INTERVAL_MS) / Math.max(1, BREACHES);
  for (let i = 0; i < BREACHES; i++) {
    const vmid = vmids[Math.floor((i * GUESTS) / BREACHES)]!;
    await load.set(vmid, { cpu: 0.95 });
    breachedAt.set(`guest-${vmid}`, Date.now());
    await new Promise((r) => setTimeout(r, spread));
  }
  const emailOf = (name: string) => smtp.messages.find((m) => m.subject === `[FIRING] [critical] CPU high: ${name}`);
  // Every email, or what came within the wait: a breach without its email counts as missing.
  const waitMs = FOR_SECONDS * 1000 + 10 * INTERVAL_MS + 120_000;
  await until('every breach\'s email', async () => [...breachedAt.keys()].every((name) => emailOf(name)), waitMs, 250).catch(() => log(`  not every email came within ${waitMs / 1000} s`));
  const breachMs = [...breachedAt].filter(([name]) => emailOf(name)).map(([name, at]) => emailOf(name)!.receivedAt.getTime() - at).sort((a, b) => a - b);
  const missing = breachedAt.size - breachMs.length;
  log(`  ${breachMs.length} emails, ${missing} missing`);
  const goalMs = FOR_SECONDS * 1000 + INTERVAL_MS + 10_000;
  await deleteMonitoringSchedules(p.client, p.coreTaskQueue);

  // Evaluation rounds, one after the other, nothing else running.
  log(`evaluation: ${ROUNDS} rounds of 5 rules × ${GUESTS} guests…`);
  await new Promise((r) => setTimeout(r, 2000));
  const evaluations: Array<{ ms: number; cpuMs: number }> = [];
  for (let i = 0; i < ROUNDS + 1; i++) {
    const before = processUsage(workerPid);
    const started = performance.now();
    await p.client.workflow.execute(WorkflowType.monitoringEvaluate, { taskQueue: p.coreTaskQueue, workflowId: `bench-evaluate-${randomBytes(4).toString('hex')}`, args: [] });
    // The alert workflows the round signalled run on the same worker: their share is counted too.
    await new Promise((r) => setTimeout(r, 500));
    const sample = { ms: performance.now() - started - 500, cpuMs: processUsage(workerPid).cpuMs - before.cpuMs };
    if (i > 0) evaluations.push(sample); // the first round warms caches
    log(`  evaluation round ${i}: ${Math.round(sample.ms)} ms, worker CPU ${Math.round(sample.cpuMs)} ms`);
  }
  const memory = processUsage(workerPid);

  // Ingest: readings as a collection writes them, --ingest-rounds rounds of every guest, a minute apart.
  log(`ingest: ${INGEST_ROUNDS} rounds × ${GUESTS} samples…`);
  const tenantId = p.tenantId;
  const readings = (i: number): ResourceReading[] =>
    vmids.map((vmid) => ({
      kind: 'guest',
      key: `bench-ingest/${vmid}`,
      name: `ingest-${vmid}`,
      status: 'running',
      values: { cpuPercent: 10 + ((vmid + i) % 50), memUsedBytes: 1e9 + i * 1e6, memTotalBytes: 4e9, memCacheBytes: 5e8 },
      counters: { netin: i * 1e6, netout: i * 2e6, diskread: i * 1e5, diskwrite: i * 3e5 },
      rates: { netInBps: 'netin', netOutBps: 'netout', diskReadBps: 'diskread', diskWriteBps: 'diskwrite' },
    }));
  const ingestStart = Date.now() - INGEST_ROUNDS * 60_000;
  const ingestStarted = performance.now();
  for (let i = 0; i < INGEST_ROUNDS; i++) await storeReadings(db.db, tenantId, readings(i), new Date(ingestStart + i * 60_000));
  const ingestMs = performance.now() - ingestStarted;
  const ingestRows = INGEST_ROUNDS * GUESTS;

  // A day of one resource at the default collection interval (a sample a minute), from rrddata-like history.
  const target = resources.items[0]!;
  const dayStart = Date.now() - 24 * 3600_000;
  const points = Array.from({ length: 1440 }, (_, i) => ({ at: new Date(dayStart + i * 60_000), values: { cpuPercent: 20 + (i % 30), memUsedBytes: 1e9, memTotalBytes: 2e9, netInBps: 1000 * i, netOutBps: 500 * i } }));
  const historyStarted = performance.now();
  const imported = await storeHistory(db.db, tenantId, target.id, points);
  const historyMs = performance.now() - historyStarted;

  log(`query: ${QUERIES} × a day of ${target.name}…`);
  const queryMs: number[] = [];
  let pointCount = 0;
  for (let i = 0; i < QUERIES + 2; i++) {
    const started = performance.now();
    const series = await api<{ points: unknown[]; resolution: string }>('GET', `/api/monitoring/resources/${target.id}/series?range=24h`);
    if (i >= 2) queryMs.push(performance.now() - started);
    pointCount = series.points.length;
  }
  queryMs.sort((a, b) => a - b);

  const evalMs = evaluations.map((e) => e.ms).sort((a, b) => a - b);
  const evalCpu = evaluations.map((e) => e.cpuMs).sort((a, b) => a - b);
  const collectMs = collections.map((c) => c.ms).sort((a, b) => a - b);
  const collectCpu = collections.map((c) => c.cpuMs).sort((a, b) => a - b);
  const summary = {
    schema: 1,
    breachToEmail: { p50Ms: round(percentile(breachMs, 50), 0), p95Ms: round(percentile(breachMs, 95), 0), maxMs: round(breachMs.at(-1) ?? NaN, 0), samples: breachMs.length, missing, goalMs, met: missing === 0 && percentile(breachMs, 95) <= goalMs },
    evaluation: {
      guests: GUESTS,
      rules: 5,
      p50Ms: round(percentile(evalMs, 50), 0),
      maxMs: round(evalMs.at(-1)!, 0),
      workerCpuMsP50: round(percentile(evalCpu, 50), 0),
      workerCpuShareAt60s: round(percentile(evalCpu, 50) / 60_000, 4),
      rounds: evaluations.length,
    },
    collection: {
      guests: GUESTS,
      p50Ms: round(percentile(collectMs, 50), 0),
      workerCpuMsP50: round(percentile(collectCpu, 50), 0),
      // Each phase's median over the rounds: the resource list, the agents' meminfo, the write, the rrddata import.
      phasesP50Ms: Object.fromEntries((['resourcesMs', 'agentMs', 'storeMs', 'backfillMs'] as const).map((k) => [k, round(percentile(collections.map((c) => c.phases?.[k] ?? NaN).sort((a, b) => a - b), 50), 0)])),
      rounds: collections.length,
    },
    workerMemory: { rssMiB: round(memory.rssMiB, 0), peakRssMiB: round(memory.peakRssMiB, 0) },
    ingest: { rows: ingestRows, rowsPerSecond: round(ingestRows / (ingestMs / 1000), 0), historyRows: imported, historyRowsPerSecond: round(imported / (historyMs / 1000), 0) },
    query: { points: pointCount, p50Ms: round(percentile(queryMs, 50), 1), p95Ms: round(percentile(queryMs, 95), 1), samples: queryMs.length },
    params: { guests: GUESTS, rounds: ROUNDS, breaches: BREACHES, intervalMs: INTERVAL_MS, forSeconds: FOR_SECONDS, ingestRounds: INGEST_ROUNDS, queries: QUERIES },
    machine: { cpus: cpus().length, memoryGiB: round(totalmem() / 1024 ** 3, 1), node: process.version },
    notes: p.notes,
  };
  console.log(
    [
      '',
      `monitoring on the Proxmox simulator (${GUESTS} in-memory guests, 5 rules, worker in its own process)`,
      `breach → email     p50 ${summary.breachToEmail.p50Ms} ms, p95 ${summary.breachToEmail.p95Ms} ms, max ${summary.breachToEmail.maxMs} ms (${breachMs.length} breaches, ${missing} without an email in time; goal p95 ≤ for ${FOR_SECONDS} s + interval ${INTERVAL_MS / 1000} s + 10 s = ${goalMs / 1000} s: ${summary.breachToEmail.met ? 'met' : 'NOT met'})`,
      `evaluation round   p50 ${summary.evaluation.p50Ms} ms, max ${summary.evaluation.maxMs} ms; worker CPU ${summary.evaluation.workerCpuMsP50} ms a round (${round(summary.evaluation.workerCpuShareAt60s! * 100, 2)}% of a core at one round a minute)`,
      `collection round   p50 ${summary.collection.p50Ms} ms; worker CPU ${summary.collection.workerCpuMsP50} ms a round`,
      `worker memory      ${summary.workerMemory.rssMiB} MiB resident (peak ${summary.workerMemory.peakRssMiB} MiB)`,
      `ingest             ${summary.ingest.rowsPerSecond} rows/s as collections write (${ingestRows} rows); ${summary.ingest.historyRowsPerSecond} rows/s as history imports`,
      `a day of one guest p50 ${summary.query.p50Ms} ms, p95 ${summary.query.p95Ms} ms over HTTP (${pointCount} points)`,
      '',
      JSON.stringify(summary),
    ].join('\n'),
  );
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/monitoring-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, JSON.stringify(summary, null, 2));
} finally {
  await stopAll();
}
