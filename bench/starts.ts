/**
 * Start throughput and latency: no-op workflows started through Keelson's API (real HTTP) and,
 * as baselines, directly with the same Temporal client — bare, and with the search attributes
 * Keelson sets on every run (which Temporal's visibility store has to index). The sides take
 * turns batch by batch, so drift on a noisy machine hits all alike; each batch's runs complete
 * before the next batch.
 */
import { WorkflowId, WorkflowType } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { randomUUID } from 'node:crypto';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import type { BenchPlatform } from './platform';
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
  /** This process's event-loop delay while the side's batches ran (ms): how busy the loop was. */
  eventLoopDelay: { p50: number; p99: number; max: number };
  /** Queries waiting for a connection of the API's Postgres pool, sampled every 5 ms. */
  poolWaiting: { mean: number; max: number };
}

export interface StartResult {
  keelson: StartSide;
  raw: StartSide;
  /** The raw client plus Keelson's four search attributes: what Temporal alone costs for a run. */
  rawAttributes: StartSide;
}

const SIDES = ['keelson', 'raw', 'rawAttributes'] as const;
type Side = (typeof SIDES)[number];

/** Starts one run; resolves with its workflow id when the start call has returned. */
type Starter = () => Promise<string>;

export async function measureStarts(p: BenchPlatform, opts: StartOptions, progress: (msg: string) => void): Promise<StartResult> {
  const sides: Record<Side, Starter> = { keelson: keelsonStarter(p), raw: rawStarter(p, false), rawAttributes: rawStarter(p, true) };

  progress(`start: warm-up, ${opts.warmup} per side`);
  for (const side of SIDES) {
    const b = await runBatch(sides[side], opts.warmup, opts.concurrency);
    await waitForRuns(p, b.ids);
  }

  const measured = Object.fromEntries(
    SIDES.map((s) => [s, { ms: 0, latencies: [] as number[], batchThroughput: [] as number[], delay: createHistogram(), waiting: [] as number[] }]),
  ) as Record<Side, { ms: number; latencies: number[]; batchThroughput: number[]; delay: RecordableHistogram; waiting: number[] }>;
  const rounds = Math.ceil(opts.n / opts.batch);
  for (let r = 0; r < rounds; r++) {
    const size = Math.min(opts.batch, opts.n - r * opts.batch);
    // The side that goes first rotates, so none always follows another's load.
    const order = SIDES.map((_, i) => SIDES[(i + r) % SIDES.length]!);
    for (const side of order) {
      const m = measured[side];
      const stopSampling = sample(m.delay, m.waiting, p);
      const b = await runBatch(sides[side], size, opts.concurrency);
      stopSampling();
      // Not measured: let every run of the batch finish so the next batch starts on a quiet system.
      await waitForRuns(p, b.ids);
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
  });
  return { keelson: result(measured.keelson), raw: result(measured.raw), rawAttributes: result(measured.rawAttributes) };
}

/** `POST /api/runs` over HTTP, authenticated with the seeded API key; the JSON answer is read. */
function keelsonStarter(p: BenchPlatform): Starter {
  const url = `${p.baseUrl}/api/runs`;
  const body = JSON.stringify({ operation: 'system.noop', input: {} });
  const headers = { ...p.auth, 'content-type': 'application/json' };
  return async () => {
    const res = await fetch(url, { method: 'POST', headers, body }).catch((err: Error) => {
      // fetch's own message ("fetch failed") hides why; the cause says it.
      throw new Error(`POST /api/runs: ${err.message}: ${(err.cause as Error | undefined)?.message ?? 'no cause'}`, { cause: err });
    });
    const text = await res.text();
    if (res.status !== 201) throw new Error(`POST /api/runs answered ${res.status}: ${text}`);
    return (JSON.parse(text) as { workflowId: string }).workflowId;
  };
}

/** The baseline: the same workflow, input and Client, without HTTP, auth or audit. */
function rawStarter(p: BenchPlatform, withAttributes: boolean): Starter {
  const typedSearchAttributes = withAttributes
    ? runSearchAttributes({ tenantId: p.tenantId, operation: 'system.noop', resources: [], actor: p.actor })
    : undefined;
  return async () => {
    const handle = await p.client.workflow.start(WorkflowType.noop, {
      taskQueue: p.coreTaskQueue,
      workflowId: WorkflowId.noop(randomUUID()),
      args: [{ tenantId: p.tenantId, actor: p.actor }],
      typedSearchAttributes,
    });
    return handle.workflowId;
  };
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

async function runBatch(start: Starter, count: number, concurrency: number) {
  const latencies: number[] = [];
  const ids: string[] = [];
  let issued = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (issued < count) {
        issued++;
        const s = performance.now();
        const id = await start();
        latencies.push(performance.now() - s);
        ids.push(id);
      }
    }),
  );
  return { ms: performance.now() - t0, latencies, ids };
}

async function waitForRuns(p: BenchPlatform, ids: string[]) {
  await Promise.all(ids.map((id) => p.client.workflow.getHandle(id).result()));
}
