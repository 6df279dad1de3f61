/**
 * `npm run bench:runs-list`: how fast the first page of one tenant's runs comes back when the
 * Temporal server holds --runs runs spread over --tenants tenants, through `GET /api/runs` and,
 * as the baseline, the same visibility query made directly against Temporal. See bench/README.md.
 */
import { buildVisibilityQuery } from '@keelson/api/services/runs-service';
import { WorkflowId, WorkflowType } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { connectDb } from '@keelson/db';
import * as schema from '@keelson/db/schema';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBenchPlatform, terminateAll } from './platform';
import { percentile, round } from './stats';

const USAGE = `usage: npm run bench:runs-list -- [options]
  --runs N           runs started in all, spread evenly over the tenants   default 100000
  --tenants T        tenants                                                default 10
  --concurrency C    starts in flight while filling the server              default 64
  --queries Q        measured first-page queries per side                   default 200
  --page-size S      the page size asked for (the API's default is 50)      default 50`;

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '100000' },
    tenants: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '64' },
    queries: { type: 'string', default: '200' },
    'page-size': { type: 'string', default: '50' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const int = (name: 'runs' | 'tenants' | 'concurrency' | 'queries' | 'page-size', min: number) => {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < min) {
    console.error(`bench:runs-list: --${name} must be an integer ≥ ${min}\n${USAGE}`);
    process.exit(2);
  }
  return v;
};
const params = { runs: int('runs', 1), tenants: int('tenants', 1), concurrency: int('concurrency', 1), queries: int('queries', 1), pageSize: int('page-size', 1) };
const WARMUP = 10;
const progress = (msg: string) => process.stderr.write(`bench │ ${msg}\n`);
Runtime.install({ logger: new DefaultLogger('WARN') });

// No worker of ours, and the server's own workers never poll it: every run stays Running with its
// first workflow task pending (see the README for why, and what that does and does not change).
const idleQueue = `runs-list-idle-${randomBytes(4).toString('hex')}`;
const p = await startBenchPlatform({ coreWorker: false });
const stop = () => p.close();
process.once('SIGINT', () => void stop().then(() => process.exit(130)));

try {
  // The bench's API key belongs to the first tenant; the others are organizations of their own
  // (each run's input is sealed with its organization's data key).
  const db = connectDb(p.dbUrl, { max: 1 });
  const others = params.tenants > 1
    ? await db.db.insert(schema.tenants).values(Array.from({ length: params.tenants - 1 }, (_, i) => ({ slug: `bench-${i + 2}`, name: `Benchmark ${i + 2}` }))).returning({ id: schema.tenants.id })
    : [];
  await db.close();
  const tenants = [p.tenantId, ...others.map((t) => t.id)];
  const started = performance.now();
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: params.concurrency }, async () => {
      while (next < params.runs) {
        const i = next++;
        const tenantId = tenants[i % tenants.length]!;
        const actor = tenantId === p.tenantId ? p.actor : `apikey:${tenantId}`;
        await p.client.workflow.start(WorkflowType.noop, {
          taskQueue: idleQueue,
          workflowId: WorkflowId.noop(randomUUID()),
          args: [{ tenantId, actor, sleepSeconds: 86_400 }],
          typedSearchAttributes: runSearchAttributes({ tenantId, operation: 'system.noop', resources: [], actor }),
          workflowIdConflictPolicy: 'FAIL',
          workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
        });
        if (++done % 5000 === 0) progress(`  ${done} of ${params.runs} runs started (${Math.round(done / ((performance.now() - started) / 1000))}/s)`);
      }
    }),
  );
  const fillSeconds = (performance.now() - started) / 1000;
  progress(`${params.runs} runs started in ${fillSeconds.toFixed(1)} s`);

  // Visibility is eventually consistent: wait until it counts every run of the measured tenant.
  const query = buildVisibilityQuery(p.tenantId, {});
  const perTenant = params.runs / params.tenants;
  const expected = Math.ceil(perTenant);
  for (const deadline = Date.now() + 300_000; ; ) {
    const { count } = await p.client.workflowService.countWorkflowExecutions({ namespace: 'default', query });
    if (Number(count) >= expected) break;
    if (Date.now() > deadline) throw new Error(`visibility counts ${count} runs of the tenant, expected ${expected}`);
    await new Promise((r) => setTimeout(r, 500));
  }

  const viaApi = async () => {
    const t0 = performance.now();
    const res = await fetch(`${p.baseUrl}/api/runs?pageSize=${params.pageSize}`, { headers: p.auth });
    const body = (await res.json()) as { items: Array<{ workflowId: string }> };
    const ms = performance.now() - t0;
    if (res.status !== 200 || body.items.length !== Math.min(params.pageSize, expected)) throw new Error(`GET /api/runs: ${res.status}, ${body.items?.length} items`);
    return ms;
  };
  const direct = async () => {
    const t0 = performance.now();
    const res = await p.client.workflowService.listWorkflowExecutions({ namespace: 'default', pageSize: params.pageSize, query });
    const ms = performance.now() - t0;
    if (res.executions.length !== Math.min(params.pageSize, expected)) throw new Error(`listWorkflowExecutions: ${res.executions.length} executions`);
    return ms;
  };
  for (let i = 0; i < WARMUP; i++) {
    await viaApi();
    await direct();
  }
  // One query at a time, the sides alternating (the first side alternating too), so drift hits both.
  const api: number[] = [];
  const raw: number[] = [];
  for (let i = 0; i < params.queries; i++) {
    if (i % 2 === 0) {
      api.push(await viaApi());
      raw.push(await direct());
    } else {
      raw.push(await direct());
      api.push(await viaApi());
    }
  }
  const stats = (samples: number[]) => {
    const s = [...samples].sort((a, b) => a - b);
    return { p50Ms: round(percentile(s, 50)), p95Ms: round(percentile(s, 95)), p99Ms: round(percentile(s, 99)), maxMs: round(s.at(-1)!), samples: s.length };
  };
  const summary = {
    schema: 1,
    at: new Date().toISOString(),
    api: stats(api),
    visibility: stats(raw),
    ratio: { p50: round(percentile([...api].sort((a, b) => a - b), 50) / percentile([...raw].sort((a, b) => a - b), 50)), p95: round(percentile([...api].sort((a, b) => a - b), 95) / percentile([...raw].sort((a, b) => a - b), 95)) },
    goal: { mustP95Ms: 250, goalP95Ms: 150 },
    fill: { runs: params.runs, tenants: params.tenants, runsOfTenant: expected, seconds: round(fillSeconds, 1), startsPerSecond: round(params.runs / fillSeconds, 0), state: 'Running, first workflow task pending (no worker polls their queue)' },
    params,
    machine: { cpus: cpus().length, memoryGiB: round(totalmem() / 1024 ** 3, 1), node: process.version },
    notes: p.notes,
  };
  const met = (v: number | null) => (v === null ? '?' : v < 150 ? 'goal met' : v < 250 ? 'must met' : 'NOT met');
  console.log(
    [
      '',
      `first page (${params.pageSize}) of one tenant's runs; the server holds ${params.runs} runs of ${params.tenants} tenants (${expected} of this tenant), ${params.queries} queries per side`,
      '| | p50 | p95 | p99 | max |',
      '| --- | --- | --- | --- | --- |',
      `| GET /api/runs | ${summary.api.p50Ms} ms | ${summary.api.p95Ms} ms | ${summary.api.p99Ms} ms | ${summary.api.maxMs} ms |`,
      `| visibility directly | ${summary.visibility.p50Ms} ms | ${summary.visibility.p95Ms} ms | ${summary.visibility.p99Ms} ms | ${summary.visibility.maxMs} ms |`,
      `| API ÷ visibility | ${summary.ratio.p50} | ${summary.ratio.p95} | | |`,
      `API p95 ${summary.api.p95Ms} ms: ${met(summary.api.p95Ms)} (must < 250 ms, goal < 150 ms); filled at ${summary.fill.startsPerSecond} starts/s`,
      '',
      JSON.stringify(summary),
    ].join('\n'),
  );
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}runs-list-${summary.at.replace(/[:.]/g, '-')}.json`, `${JSON.stringify(summary, null, 2)}\n`);
} finally {
  // On a dev server the bench started, the runs go with it; on TEMPORAL_ADDRESS they would stay.
  await terminateAll(p.client, `TaskQueue = '${idleQueue}'`).catch((err: Error) => progress(`terminating the runs: ${err.message}`));
  await stop();
}
