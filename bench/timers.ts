/**
 * `npm run bench:timers`: the resident memory of Keelson's worker process (workers/src/main.ts,
 * the core worker as production wires it) once --runs runs each wait on a long durable timer.
 * See bench/README.md.
 */
import { WorkflowId, WorkflowType } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBenchPlatform, terminateAll } from './platform';
import { round } from './stats';

const USAGE = `usage: npm run bench:timers -- [options]
  --runs N           runs started, each waiting on a timer               default 10000
  --concurrency C    starts in flight                                    default 32
  --sleep-seconds S  the timer each run waits on                         default 86400`;

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '32' },
    'sleep-seconds': { type: 'string', default: '86400' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const int = (name: 'runs' | 'concurrency' | 'sleep-seconds', min: number) => {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < min) {
    console.error(`bench:timers: --${name} must be an integer ≥ ${min}\n${USAGE}`);
    process.exit(2);
  }
  return v;
};
const params = { runs: int('runs', 1), concurrency: int('concurrency', 1), sleepSeconds: int('sleep-seconds', 60) };
const root = fileURLToPath(new URL('..', import.meta.url));
const progress = (msg: string) => process.stderr.write(`bench │ ${msg}\n`);
Runtime.install({ logger: new DefaultLogger('WARN') });

/** Resident memory now and at its peak (MiB), from /proc. */
function memory(pid: number): { rssMiB: number; peakRssMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kb('VmRSS') / 1024, peakRssMiB: kb('VmHWM') / 1024 };
}

const p = await startBenchPlatform({ coreWorker: false });
const workerEnv = {
  ...process.env,
  DATABASE_URL: p.dbUrl,
  TEMPORAL_ADDRESS: p.temporalAddress,
  KEELSON_ENCRYPTION_KEYS: p.keySpec,
  KEELSON_CORE_TASK_QUEUE: p.coreTaskQueue,
  KEELSON_MONITORING_SCHEDULES: 'false',
  KEELSON_LOG_LEVEL: 'WARN',
};
let worker: ChildProcess | undefined;
const stopAll = async () => {
  await terminateAll(p.client, `TaskQueue = '${p.coreTaskQueue}' AND ExecutionStatus = 'Running'`).catch((err: Error) => progress(`terminating the runs: ${err.message}`));
  if (worker && worker.exitCode === null && worker.signalCode === null) {
    const exited = new Promise((r) => worker!.once('exit', r));
    worker.kill('SIGTERM');
    const timer = setTimeout(() => worker!.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  await p.close();
};
process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));

try {
  // The core worker does not set the sticky cache's size, so the SDK's default applies: computed
  // from the V8 heap limit of the worker's process (same node and NODE_OPTIONS as below).
  const heapLimitMiB = Number(spawnSync(process.execPath, ['-p', 'require("v8").getHeapStatistics().heap_size_limit / 1048576'], { env: workerEnv, encoding: 'utf8' }).stdout.trim());
  const stickyCacheSize = Math.max(Math.floor((Math.max(heapLimitMiB - 200, 0) * 600) / 1024), 10);

  progress('starting the worker process…');
  worker = spawn(process.execPath, ['--import', 'tsx', 'workers/src/main.ts'], { cwd: root, env: workerEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    worker!.stdout!.on('data', (c: Buffer) => {
      output = (output + c.toString()).slice(-4000);
      if (output.includes('workers running')) resolve();
    });
    worker!.stderr!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
    worker!.once('exit', (code) => reject(new Error(`the worker exited (${code}) before running:\n${output}`)));
  });
  const pid = worker.pid!;
  const idle = memory(pid);
  progress(`worker running, ${Math.round(idle.rssMiB)} MiB resident; starting ${params.runs} runs…`);

  const typedSearchAttributes = runSearchAttributes({ tenantId: p.tenantId, operation: 'system.noop', resources: [], actor: p.actor });
  const ids: string[] = [];
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: params.concurrency }, async () => {
      while (next < params.runs) {
        next++;
        const handle = await p.client.workflow.start(WorkflowType.noop, {
          taskQueue: p.coreTaskQueue,
          workflowId: WorkflowId.noop(randomUUID()),
          args: [{ tenantId: p.tenantId, actor: p.actor, sleepSeconds: params.sleepSeconds }],
          typedSearchAttributes,
        });
        ids.push(handle.workflowId);
        if (ids.length % 1000 === 0) progress(`  ${ids.length} started, worker ${Math.round(memory(pid).rssMiB)} MiB`);
      }
    }),
  );
  const startSeconds = (performance.now() - started) / 1000;

  // A run is waiting on its timer once its first workflow task completed and the timer started:
  // five history events (started, task scheduled, started, completed, timer started), nothing pending.
  progress('waiting until every run waits on its timer…');
  let pending = [...ids];
  for (const deadline = Date.now() + 600_000; pending.length; ) {
    const still: string[] = [];
    let i = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (i < pending.length) {
          const workflowId = pending[i++]!;
          const d = await p.client.workflowService.describeWorkflowExecution({ namespace: 'default', execution: { workflowId } });
          const timerStarted = Number(d.workflowExecutionInfo?.historyLength ?? 0) >= 5 && !d.pendingWorkflowTask;
          if (!timerStarted) still.push(workflowId);
        }
      }),
    );
    pending = still;
    progress(`  ${params.runs - pending.length} of ${params.runs} waiting on their timer`);
    if (!pending.length) break;
    if (Date.now() > deadline) throw new Error(`${pending.length} runs never reached their timer`);
    await new Promise((r) => setTimeout(r, 2000));
  }
  const settledSeconds = (performance.now() - started) / 1000;
  // A moment for the garbage collector, then the figure.
  await new Promise((r) => setTimeout(r, 5000));
  const loaded = memory(pid);

  const mib = (v: number) => round(v, 0);
  const summary = {
    schema: 1,
    at: new Date().toISOString(),
    worker: { rssMiB: mib(loaded.rssMiB), peakRssMiB: mib(loaded.peakRssMiB), idleRssMiB: mib(idle.rssMiB), perRunKiB: round(((loaded.rssMiB - idle.rssMiB) * 1024) / params.runs, 1) },
    stickyCache: { maxCachedWorkflows: stickyCacheSize, heapLimitMiB: round(heapLimitMiB, 0), source: 'SDK default (createCoreWorker sets none)' },
    runs: { waitingOnTimer: params.runs, startSeconds: round(startSeconds, 1), allWaitingAfterSeconds: round(settledSeconds, 1) },
    goal: { mustMiB: 1024, goalMiB: 500 },
    params,
    machine: { cpus: cpus().length, memoryGiB: round(totalmem() / 1024 ** 3, 1), node: process.version },
    notes: p.notes,
  };
  const met = loaded.peakRssMiB < 500 ? 'goal met' : loaded.peakRssMiB < 1024 ? 'must met' : 'NOT met';
  console.log(
    [
      '',
      `worker process (workers/src/main.ts, core worker) with ${params.runs} runs waiting on a ${params.sleepSeconds} s timer; sticky cache ${stickyCacheSize} workflows (SDK default at a ${Math.round(heapLimitMiB)} MiB heap limit)`,
      '| | resident (VmRSS) | peak (VmHWM) |',
      '| --- | --- | --- |',
      `| idle, before the runs | ${summary.worker.idleRssMiB} MiB | |`,
      `| ${params.runs} runs waiting | ${summary.worker.rssMiB} MiB | ${summary.worker.peakRssMiB} MiB |`,
      `peak ${summary.worker.peakRssMiB} MiB: ${met} (must < 1024 MiB, goal < 500 MiB); ${summary.worker.perRunKiB} KiB a run beyond idle; all waiting ${summary.runs.allWaitingAfterSeconds} s after the first start`,
      '',
      JSON.stringify(summary),
    ].join('\n'),
  );
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}timers-${summary.at.replace(/[:.]/g, '-')}.json`, `${JSON.stringify(summary, null, 2)}\n`);
} finally {
  await stopAll();
}
