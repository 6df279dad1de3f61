/**
 * `npm run bench:timers`: the resident memory of Keelson's worker process (workers/src/main.ts,
 * the core worker as production wires it) once --runs runs each wait on a long durable timer.
 * See bench/README.md.
 */
import { WorkflowId, WorkflowType } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { processUsage, spawnWorkerProcess, startBenchPlatform, terminateAll, type WorkerProcess } from './platform';
import { DEFAULT_MAX_CACHED_WORKFLOWS } from '../workers/src/env';
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
const progress = (msg: string) => process.stderr.write(`bench │ ${msg}\n`);
Runtime.install({ logger: new DefaultLogger('WARN') });

const p = await startBenchPlatform({ coreWorker: false });
let worker: WorkerProcess | undefined;
const stopAll = async () => {
  await terminateAll(p.client, `TaskQueue = '${p.coreTaskQueue}' AND ExecutionStatus = 'Running'`).catch((err: Error) => progress(`terminating the runs: ${err.message}`));
  await worker?.stop();
  await p.close();
};
process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));

try {
  // The core worker's sticky cache: KEELSON_MAX_CACHED_WORKFLOWS, else its default.
  const stickyCacheSize = Number(process.env.KEELSON_MAX_CACHED_WORKFLOWS ?? DEFAULT_MAX_CACHED_WORKFLOWS);

  progress('starting the worker process…');
  worker = spawnWorkerProcess(p);
  await worker.ready;
  const pid = worker.pid;
  const idle = processUsage(pid);
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
        if (ids.length % 1000 === 0) progress(`  ${ids.length} started, worker ${Math.round(processUsage(pid).rssMiB)} MiB`);
      }
    }),
  );
  const startSeconds = (performance.now() - started) / 1000;

  // A run is waiting on its timer once its first workflow task completed and the timer started:
  // five history events (started, task scheduled, started, completed, timer started), nothing pending.
  progress('waiting until every run waits on its timer…');
  let pending = [...ids];
  // Fails only when no run got there for three minutes: a busy machine is slow, not stuck.
  for (let deadline = Date.now() + 180_000; pending.length; ) {
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
    if (still.length < pending.length) deadline = Date.now() + 180_000;
    pending = still;
    progress(`  ${params.runs - pending.length} of ${params.runs} waiting on their timer`);
    if (!pending.length) break;
    if (Date.now() > deadline) throw new Error(`${pending.length} runs did not reach their timer, none for three minutes`);
    await new Promise((r) => setTimeout(r, 2000));
  }
  const settledSeconds = (performance.now() - started) / 1000;
  // A moment for the garbage collector, then the figure.
  await new Promise((r) => setTimeout(r, 5000));
  const loaded = processUsage(pid);

  const mib = (v: number) => round(v, 0);
  const summary = {
    schema: 1,
    at: new Date().toISOString(),
    worker: { rssMiB: mib(loaded.rssMiB), peakRssMiB: mib(loaded.peakRssMiB), idleRssMiB: mib(idle.rssMiB), perRunKiB: round(((loaded.rssMiB - idle.rssMiB) * 1024) / params.runs, 1) },
    stickyCache: { maxCachedWorkflows: stickyCacheSize, source: process.env.KEELSON_MAX_CACHED_WORKFLOWS ? 'KEELSON_MAX_CACHED_WORKFLOWS' : 'the core worker\'s default' },
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
      `worker process (workers/src/main.ts, core worker) with ${params.runs} runs waiting on a ${params.sleepSeconds} s timer; sticky cache ${stickyCacheSize} workflows`,
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
