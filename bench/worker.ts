/**
 * `npm run bench:worker`: how many one-activity runs per second Keelson's core worker completes,
 * against a plain SDK worker of the same workflow in the same run. See bench/README.md.
 */
import { WorkflowId, WorkflowType } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { Runtime, DefaultLogger } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBenchPlatform, type BenchPlatform } from './platform';
import { round } from './stats';

const USAGE = `usage: npm run bench:worker -- [options]
  --n N         measured runs per side                 default 200
  --batch B     runs per batch; sides take turns       default 50
  --warmup W    unmeasured runs per side first         default 20`;

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '200' },
    batch: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '20' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const int = (name: 'n' | 'batch' | 'warmup', min: number) => {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < min) {
    console.error(`bench:worker: --${name} must be an integer ≥ ${min}\n${USAGE}`);
    process.exit(2);
  }
  return v;
};
const params = { n: int('n', 1), batch: int('batch', 1), warmup: int('warmup', 0) };
const progress = (msg: string) => process.stderr.write(`bench │ ${msg}\n`);

Runtime.install({ logger: new DefaultLogger('WARN') });

interface Side {
  name: 'core' | 'plain';
  /** Starts one run of `noop` with one `echo` activity; resolves with its handle's result promise. */
  start(): Promise<Promise<unknown>>;
  ms: number;
  runs: number;
  batchRate: number[];
}

/** Both sides start alike, with Keelson's search attributes, so only the worker differs. */
function side(name: Side['name'], client: Client, taskQueue: string, p: BenchPlatform): Side {
  const typedSearchAttributes = runSearchAttributes({ tenantId: p.tenantId, operation: 'system.noop', resources: [], actor: p.actor });
  return {
    name,
    ms: 0,
    runs: 0,
    batchRate: [],
    async start() {
      const handle = await client.workflow.start(WorkflowType.noop, {
        taskQueue,
        workflowId: WorkflowId.noop(randomUUID()),
        args: [{ tenantId: p.tenantId, actor: p.actor, echo: ['one line'] }],
        typedSearchAttributes,
      });
      return handle.result();
    },
  };
}

/** Starts `count` runs at once and waits until all completed: runs ÷ (last completion − first start). */
async function batch(s: Side, count: number): Promise<number> {
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: count }, () => s.start()));
  await Promise.all(results);
  return performance.now() - t0;
}

let platform: BenchPlatform | undefined;
try {
  platform = await startBenchPlatform();
  const p = platform;
  // The core worker serves p.coreTaskQueue with Keelson's codec; the plain one a queue of its own.
  const plainQueue = `plain-bench-${randomBytes(4).toString('hex')}`;
  const plainClient = await p.addPlainWorker(plainQueue);
  const sides = [side('core', p.client, p.coreTaskQueue, p), side('plain', plainClient, plainQueue, p)];

  progress(`warm-up: ${params.warmup} runs per side`);
  for (const s of sides) if (params.warmup) await batch(s, params.warmup);
  const rounds = Math.ceil(params.n / params.batch);
  for (let r = 0; r < rounds; r++) {
    const size = Math.min(params.batch, params.n - r * params.batch);
    for (const s of r % 2 ? [...sides].reverse() : sides) {
      const ms = await batch(s, size);
      s.ms += ms;
      s.runs += size;
      s.batchRate.push(size / (ms / 1000));
    }
    progress(`round ${r + 1}/${rounds} (${size} runs per side)`);
  }

  const [core, plain] = sides as [Side, Side];
  const rate = (s: Side) => s.runs / (s.ms / 1000);
  const summary = {
    bench: 'keelson-worker',
    schema: 1,
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version, platform: `${process.platform}-${process.arch}` },
    params,
    core: { runsPerSecond: round(rate(core), 1), batchRunsPerSecond: core.batchRate.map((v) => round(v, 1)) },
    plain: { runsPerSecond: round(rate(plain), 1), batchRunsPerSecond: plain.batchRate.map((v) => round(v, 1)) },
    ratio: round(rate(core) / rate(plain)),
    notes: p.notes,
  };
  const f = (v: number) => v.toFixed(1);
  const range = (t: number[]) => `${f(Math.min(...t))}–${f(Math.max(...t))}`;
  console.log(
    [
      '',
      `Keelson worker bench — ${cpus().length} CPUs, Node ${process.version}`,
      `One-activity runs (noop + echo): n=${params.n} per side, batches of ${params.batch} started at once, taking turns`,
      `  ${''.padEnd(26)}${'core worker'.padStart(14)}${'plain SDK'.padStart(14)}${'core/plain'.padStart(14)}`,
      `  ${'runs/s'.padEnd(26)}${f(rate(core)).padStart(14)}${f(rate(plain)).padStart(14)}${(rate(core) / rate(plain)).toFixed(2).padStart(14)}`,
      `  ${'runs/s per batch'.padEnd(26)}${range(core.batchRate).padStart(14)}${range(plain.batchRate).padStart(14)}`,
      '',
      ...p.notes.map((n) => `  ${n}`),
      '',
    ].join('\n'),
  );
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}worker-${summary.at.replace(/[:.]/g, '-')}.json`, `${JSON.stringify(summary, null, 2)}\n`);
  console.log(JSON.stringify(summary));
} catch (err) {
  console.error(`bench:worker: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
} finally {
  await platform?.close();
}
process.exit(process.exitCode ?? 0);
