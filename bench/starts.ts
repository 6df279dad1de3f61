/**
 * Start throughput and latency: no-op workflows started through Keelson's API (real HTTP) and,
 * as baselines, directly with a Temporal client like the API's — bare, and with the search
 * attributes Keelson sets on every run (which Temporal's visibility store has to index). Every
 * start is made and timed by a client in a process of its own (`start-client.ts`), as a real
 * client runs apart from the API. The sides take turns batch by batch, so drift on a noisy
 * machine hits all alike; each batch's runs complete before the next batch.
 */
import { fork } from 'node:child_process';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startBareServer } from './bare-server';
import { addCpu, cpuSince, cpuSnapshot, noCpu, type CpuParts } from './cpu';
import type { BenchPlatform } from './platform';
import type { BatchTimings, StartClientReply, StartClientRequest, StartSideName } from './start-client';
import { summarize, type LatencySummary } from './stats';

export interface StartOptions {
  /** Measured starts per side. */
  n: number;
  /** Starts in flight at once, per side. */
  concurrency: number;
  /** Starts per batch; sides alternate batch by batch. */
  batch: number;
  /** Unmeasured starts per side before measuring. */
  warmup: number;
}

export interface StartSide {
  /** Measured starts divided by the summed wall time of this side's batches. */
  throughput: number;
  latency: LatencySummary;
  /** Throughput of each batch, in the order they ran (shows the machine's noise). */
  batchThroughput: number[];
  /** The API process's event-loop delay while the side's batches ran (ms): how busy its loop was. */
  eventLoopDelay: { p50: number; p99: number; max: number };
  /** Queries waiting for a connection of the API's Postgres pool, sampled every 5 ms. */
  poolWaiting: { mean: number; max: number };
  /**
   * CPU (ms) each part of the machine spent per start of this side, from each batch's first start
   * until its last run completed: the start and its run, whatever process did the work.
   */
  cpuPerStart: CpuParts;
  /** Start rows the API's background writer committed per insert during this side's batches (Keelson's only). */
  startRowsPerInsert: number;
}

export interface StartResult {
  keelson: StartSide;
  /** The same start through a bare `node:http` server (bench/bare-server.ts): the floor of any HTTP API here. */
  bareHttp: StartSide;
  raw: StartSide;
  /** The raw client plus Keelson's four search attributes: what Temporal alone costs for a run. */
  rawAttributes: StartSide;
}

const SIDES = ['keelson', 'bareHttp', 'raw', 'rawAttributes'] as const satisfies readonly StartSideName[];
type Side = (typeof SIDES)[number];

/** The client process: makes a batch of one side's starts and answers their timings. */
export interface StartClient {
  pid: number;
  batch(side: Side, count: number, concurrency: number): Promise<BatchTimings>;
  close(): Promise<void>;
}

/** Forks `start-client.ts` for this platform; resolves once it is connected to the API and Temporal. */
export async function startStartClient(p: BenchPlatform): Promise<StartClient> {
  const bare = await startBareServer(p);
  const child = fork(fileURLToPath(new URL('./start-client.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], serialization: 'advanced' });
  let pending: { resolve(reply: StartClientReply): void; reject(err: Error): void } | undefined;
  child.on('message', (reply: StartClientReply) => pending?.resolve(reply));
  child.on('exit', (code) => pending?.reject(new Error(`the start client exited (${code})`)));
  const ask = (request: StartClientRequest) =>
    new Promise<StartClientReply>((resolve, reject) => {
      pending = { resolve, reject };
      child.send(request);
    }).then((reply) => {
      if (reply.type === 'error') throw new Error(`start client: ${reply.message}`);
      return reply;
    });
  await ask({
    type: 'init',
    config: { baseUrl: p.baseUrl, auth: p.auth, bareUrl: bare.url, temporalAddress: p.temporalAddress, taskQueue: p.coreTaskQueue, tenantId: p.tenantId, actor: p.actor, keySpec: p.keySpec, dbUrl: p.dbUrl },
  });
  return {
    pid: child.pid!,
    async batch(side, count, concurrency) {
      const reply = await ask({ type: 'batch', side, count, concurrency });
      if (reply.type !== 'batch') throw new Error(`start client answered ${reply.type} to a batch`);
      return reply.timings;
    },
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.send({ type: 'close' } satisfies StartClientRequest);
        await exited;
      }
      await bare.close();
    },
  };
}

/** `workerPid`: the worker process running the runs, whose CPU is counted with the rest. */
export async function measureStarts(p: BenchPlatform, client: StartClient, workerPid: number, opts: StartOptions, progress: (msg: string) => void): Promise<StartResult> {
  const pids = { api: process.pid, client: client.pid, worker: workerPid };
  progress(`start: warm-up, ${opts.warmup} per side`);
  for (const side of SIDES) {
    const b = await client.batch(side, opts.warmup, opts.concurrency);
    await waitForRuns(p, b.ids);
  }

  const measured = Object.fromEntries(
    SIDES.map((s) => [s, { ms: 0, latencies: [] as number[], batchThroughput: [] as number[], delay: createHistogram(), waiting: [] as number[], cpu: noCpu(), rows: 0, inserts: 0 }]),
  ) as Record<Side, { ms: number; latencies: number[]; batchThroughput: number[]; delay: RecordableHistogram; waiting: number[]; cpu: CpuParts; rows: number; inserts: number }>;
  const rounds = Math.ceil(opts.n / opts.batch);
  for (let r = 0; r < rounds; r++) {
    const size = Math.min(opts.batch, opts.n - r * opts.batch);
    // The side that goes first rotates, so none always follows another's load.
    const order = SIDES.map((_, i) => SIDES[(i + r) % SIDES.length]!);
    for (const side of order) {
      const m = measured[side];
      const cpuBefore = cpuSnapshot(pids);
      const rowsBefore = p.startRowStats();
      const stopSampling = sample(m.delay, m.waiting, p);
      const b = await client.batch(side, size, opts.concurrency);
      stopSampling();
      // Not timed: let every run of the batch finish so the next batch starts on a quiet system.
      // Its CPU is counted: a start's run is part of what it costs the machine.
      await waitForRuns(p, b.ids);
      addCpu(m.cpu, cpuSince(cpuBefore, cpuSnapshot(pids)));
      const rowsAfter = p.startRowStats();
      m.rows += rowsAfter.rows - rowsBefore.rows;
      m.inserts += rowsAfter.inserts - rowsBefore.inserts;
      m.ms += b.ms;
      m.latencies.push(...b.latencies);
      m.batchThroughput.push(size / (b.ms / 1000));
    }
    progress(`start: round ${r + 1}/${rounds} (${size} per side)`);
  }

  const result = (m: (typeof measured)[Side]): StartSide => ({
    throughput: m.latencies.length / (m.ms / 1000),
    latency: summarize(m.latencies),
    batchThroughput: m.batchThroughput,
    eventLoopDelay: { p50: m.delay.percentile(50) / 1e6, p99: m.delay.percentile(99) / 1e6, max: m.delay.max / 1e6 },
    poolWaiting: { mean: m.waiting.reduce((a, v) => a + v, 0) / Math.max(1, m.waiting.length), max: Math.max(0, ...m.waiting) },
    cpuPerStart: Object.fromEntries(Object.entries(m.cpu).map(([k, ms]) => [k, ms / m.latencies.length])) as unknown as CpuParts,
    startRowsPerInsert: m.rows / Math.max(1, m.inserts),
  });
  return { keelson: result(measured.keelson), bareHttp: result(measured.bareHttp), raw: result(measured.raw), rawAttributes: result(measured.rawAttributes) };
}

/**
 * Every 5 ms: how late the timer fired (event-loop delay; recorded in ns, the histogram being integer) and
 * how many queries wait for a connection of the API's pool.
 */
function sample(delay: RecordableHistogram, waiting: number[], p: BenchPlatform): () => void {
  const PERIOD_MS = 5;
  let timer: NodeJS.Timeout;
  const tick = (due: number) => {
    delay.record(Math.max(1, Math.round((performance.now() - due) * 1e6)));
    waiting.push(p.apiPool.waitingCount);
    arm();
  };
  const arm = () => {
    const due = performance.now() + PERIOD_MS;
    timer = setTimeout(() => tick(due), PERIOD_MS);
  };
  arm();
  return () => clearTimeout(timer);
}

async function waitForRuns(p: BenchPlatform, ids: string[]) {
  await Promise.all(ids.map((id) => p.client.workflow.getHandle(id).result()));
}
