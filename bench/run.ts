/**
 * `npm run bench`: Keelson's performance figures against the raw baselines
 * measured in the same run. Progress goes to stderr; the table and, as the last line, a one-line
 * JSON summary go to stdout; the summary is also written to bench/results/.
 * See bench/README.md for what each figure means and how to run it.
 */
import { Runtime, DefaultLogger } from '@temporalio/worker';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { measureOutputStream, type StreamResult } from './output-stream';
import { spawnWorkerProcess, startBenchPlatform, type BenchPlatform, type WorkerProcess } from './platform';
import { measureStarts, startStartClient, type StartClient, type StartResult } from './starts';
import { CPU_PARTS, type CpuParts } from './cpu';
import { round } from './stats';

const USAGE = `usage: npm run bench -- [options]
  --n N               measured starts per side (Keelson API, raw client)   default 800
                      (rounded up to whole batches)
  --concurrency C,…   starts in flight at once; a list measures each        default 8,64
                      (a batch is at least 2×C starts, n at least 2 batches)
  --batch B           starts per batch; the sides alternate batches         default 50
  --warmup W          unmeasured starts per side first                      default 20
  --stream-runs R     runs measured for output-to-stream latency            default 20
  --stream-lines L    lines each of those runs writes                       default 20
  --stream-gate-ms G  start delay that lets the stream open before output  default 250`;

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '800' },
    concurrency: { type: 'string', default: '8,64' },
    batch: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '20' },
    'stream-runs': { type: 'string', default: '20' },
    'stream-lines': { type: 'string', default: '20' },
    'stream-gate-ms': { type: 'string', default: '250' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function positiveInt(name: keyof typeof values, min = 1): number {
  const raw = String(values[name]);
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) {
    console.error(`bench: --${name} must be an integer ≥ ${min}, got "${raw}"\n${USAGE}`);
    process.exit(2);
  }
  return v;
}

function concurrencies(): number[] {
  const raw = String(values.concurrency);
  const list = raw.split(',').map((v) => Number(v.trim()));
  if (!list.length || list.some((v) => !Number.isInteger(v) || v < 1)) {
    console.error(`bench: --concurrency must be integers ≥ 1 separated by commas, got "${raw}"\n${USAGE}`);
    process.exit(2);
  }
  return [...new Set(list)];
}

const params = {
  n: positiveInt('n'),
  concurrency: concurrencies(),
  batch: positiveInt('batch'),
  warmup: positiveInt('warmup', 0),
  streamRuns: positiveInt('stream-runs'),
  streamLines: positiveInt('stream-lines'),
  streamGateMs: positiveInt('stream-gate-ms', 0),
};

const CPU_LABEL: Record<keyof CpuParts, string> = {
  machine: 'whole machine',
  api: "API's process",
  client: "client's process",
  worker: 'worker',
  temporal: 'Temporal',
  postgres: 'Postgres',
};

const progress = (msg: string) => process.stderr.write(`bench │ ${msg}\n`);

Runtime.install({ logger: new DefaultLogger('WARN') });

const began = performance.now();
let platform: BenchPlatform | undefined;
let worker: WorkerProcess | undefined;
let startClient: StartClient | undefined;
let stopping = false;
let stoppingSince = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) {
      // Ctrl-C reaches this process both from the terminal and relayed by npm and tsx; only a
      // later one means "force".
      if (performance.now() - stoppingSince > 2000) process.exit(130);
      return;
    }
    stopping = true;
    stoppingSince = performance.now();
    progress(`${signal}: cleaning up (again to force)…`);
    // While the platform is still starting, the run stops (and cleans up) as soon as it is up.
    if (platform) void stopAll().finally(() => process.exit(130));
  });
}

try {
  // As production runs them: the worker in a process of its own, and the client (start-client.ts)
  // in another, so this process is the API's alone.
  platform = await startBenchPlatform({ coreWorker: false });
  worker = spawnWorkerProcess(platform);
  await worker.ready;
  startClient = await startStartClient(platform);
  if (stopping) throw new Error('interrupted');
  progress(`ready in ${((performance.now() - began) / 1000).toFixed(1)}s: API ${platform.baseUrl}, Temporal ${platform.temporalAddress}`);

  const startsAt: StartsAt[] = [];
  for (const concurrency of params.concurrency) {
    // A batch must keep `concurrency` starts in flight for most of its time.
    const batch = Math.max(params.batch, 2 * concurrency);
    // Whole batches only: a last, smaller batch would not keep `concurrency` starts in flight.
    const n = Math.ceil(Math.max(params.n, 2 * batch) / batch) * batch;
    progress(`start: concurrency ${concurrency}, n=${n} per side, batches of ${batch}`);
    const result = await measureStarts(platform, startClient, worker.pid, { n, concurrency, batch, warmup: params.warmup }, progress);
    startsAt.push({ concurrency, n, batch, result });
  }
  const stream = await measureOutputStream(
    platform,
    { runs: params.streamRuns, lines: params.streamLines, warmupRuns: 2, gateMs: params.streamGateMs },
    progress,
  );

  const summary = buildSummary(startsAt, stream, platform.notes, (performance.now() - began) / 1000);
  console.log(table(startsAt, stream, platform.notes));
  const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(resultsDir, { recursive: true });
  const file = `${resultsDir}${summary.at.replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
  progress(`written to ${file}`);
  console.log(JSON.stringify(summary));
} catch (err) {
  // After a signal, requests fail because the server is going away; that is not news.
  if (!stopping) console.error(`bench: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
} finally {
  await stopAll();
}

async function stopAll() {
  await startClient?.close().catch(() => undefined);
  await worker?.stop();
  await platform?.close();
}

// Some handles (the SDK's native runtime) keep the event loop alive after everything is closed.
process.exit(stopping ? 130 : (process.exitCode ?? 0));

interface StartsAt {
  concurrency: number;
  n: number;
  batch: number;
  result: StartResult;
}

function startSummary({ concurrency, n, batch, result: starts }: StartsAt) {
  const side = (s: StartResult['keelson']) => ({
    throughput: round(s.throughput, 1),
    p50Ms: round(s.latency.p50),
    p99Ms: round(s.latency.p99),
    meanMs: round(s.latency.mean),
    maxMs: round(s.latency.max),
    samples: s.latency.samples,
    batchThroughput: s.batchThroughput.map((t) => round(t, 1)),
    eventLoopDelayMs: { p50: round(s.eventLoopDelay.p50), p99: round(s.eventLoopDelay.p99), max: round(s.eventLoopDelay.max) },
    poolWaiting: { mean: round(s.poolWaiting.mean), max: s.poolWaiting.max },
    cpuPerStartMs: Object.fromEntries(CPU_PARTS.map((k) => [k, round(s.cpuPerStart[k], 2)])),
    startRowsPerInsert: round(s.startRowsPerInsert, 2),
  });
  return {
    concurrency,
    n,
    batch,
    keelson: side(starts.keelson),
    bareHttp: side(starts.bareHttp),
    raw: side(starts.raw),
    rawAttributes: side(starts.rawAttributes),
    ratio: {
      throughput: round(starts.keelson.throughput / starts.raw.throughput),
      p50: round(starts.keelson.latency.p50 / starts.raw.latency.p50),
      p99: round(starts.keelson.latency.p99 / starts.raw.latency.p99),
    },
    /** The bare HTTP server against the raw client: what any HTTP hop costs on this machine. */
    bareRatio: {
      throughput: round(starts.bareHttp.throughput / starts.raw.throughput),
      p50: round(starts.bareHttp.latency.p50 / starts.raw.latency.p50),
    },
    /** Keelson against the bare HTTP server making the same start: Keelson's own code. */
    ratioToBareHttp: {
      throughput: round(starts.keelson.throughput / starts.bareHttp.throughput),
      p50: round(starts.keelson.latency.p50 / starts.bareHttp.latency.p50),
    },
    /** Keelson against a raw start carrying the same search attributes: the API's own cost. */
    ratioToRawAttributes: {
      throughput: round(starts.keelson.throughput / starts.rawAttributes.throughput),
      p50: round(starts.keelson.latency.p50 / starts.rawAttributes.latency.p50),
      p99: round(starts.keelson.latency.p99 / starts.rawAttributes.latency.p99),
    },
  };
}

function buildSummary(startsAt: StartsAt[], stream: StreamResult, notes: string[], durationS: number) {
  const lat = (l: StreamResult['sse']) => ({ p50Ms: round(l.p50), p99Ms: round(l.p99), minMs: round(l.min), maxMs: round(l.max), samples: l.samples });
  const starts = startsAt.map(startSummary);
  return {
    bench: 'keelson',
    schema: 1,
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version, platform: `${process.platform}-${process.arch}` },
    params,
    /** The first concurrency measured (8 by default), in the shape it has always had. */
    start: starts[0],
    /** Every concurrency measured, in order. */
    startByConcurrency: starts,
    outputStream: {
      sse: lat(stream.sse),
      notify: lat(stream.notify),
      ratio: { p50: round(stream.sse.p50 / stream.notify.p50), p99: round(stream.sse.p99 / stream.notify.p99) },
      excludedLines: stream.excluded,
    },
    notes,
    durationS: round(durationS, 1),
  };
}

function table(startsAt: StartsAt[], stream: StreamResult, notes: string[]): string {
  const f = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : '—');
  const row = (label: string, ...cells: string[]) => `  ${label.padEnd(26)}${cells.map((c) => c.padStart(14)).join('')}`;
  const range = (t: number[]) => `${f(Math.min(...t), 0)}–${f(Math.max(...t), 0)}`;
  const s = stream.sse;
  const nfy = stream.notify;
  const startTable = ({ concurrency, n, batch, result: starts }: StartsAt) => {
    const k = starts.keelson;
    const r = starts.raw;
    const ra = starts.rawAttributes;
    const b = starts.bareHttp;
    return [
      `Start a no-op workflow: n=${n} per side, concurrency ${concurrency}, batches of ${batch} taking turns, warm-up ${params.warmup}`,
      row('', 'Keelson API', 'raw client', 'raw + attrs', 'Keelson/raw', 'K/(raw+attrs)'),
      row('throughput (starts/s)', f(k.throughput), f(r.throughput), f(ra.throughput), f(k.throughput / r.throughput, 2), f(k.throughput / ra.throughput, 2)),
      row('latency p50 (ms)', f(k.latency.p50, 2), f(r.latency.p50, 2), f(ra.latency.p50, 2), f(k.latency.p50 / r.latency.p50, 2), f(k.latency.p50 / ra.latency.p50, 2)),
      row('latency p99 (ms)', f(k.latency.p99, 2), f(r.latency.p99, 2), f(ra.latency.p99, 2), f(k.latency.p99 / r.latency.p99, 2), f(k.latency.p99 / ra.latency.p99, 2)),
      row('throughput per batch', range(k.batchThroughput), range(r.batchThroughput), range(ra.batchThroughput)),
      row('event-loop delay p99 (ms)', f(k.eventLoopDelay.p99, 1), f(r.eventLoopDelay.p99, 1), f(ra.eventLoopDelay.p99, 1)),
      row('API pool waiting, max', String(k.poolWaiting.max), '', ''),
      row('start rows per insert', f(k.startRowsPerInsert, 1), '', ''),
      row('', 'bare HTTP', 'bare/raw', 'Keelson/bare'),
      row('throughput (starts/s)', f(b.throughput), f(b.throughput / r.throughput, 2), f(k.throughput / b.throughput, 2)),
      row('latency p50 (ms)', f(b.latency.p50, 2), f(b.latency.p50 / r.latency.p50, 2), f(k.latency.p50 / b.latency.p50, 2)),
      row('event-loop delay p99 (ms)', f(b.eventLoopDelay.p99, 1)),
      row('CPU per start and run (ms)', 'Keelson API', 'bare HTTP', 'raw client', 'raw + attrs'),
      ...CPU_PARTS.map((part) => row(`  ${CPU_LABEL[part]}`, ...[k, b, r, ra].map((side) => f(side.cpuPerStart[part], 2)))),
      '',
    ];
  };
  return [
    '',
    `Keelson bench — ${cpus().length} CPUs, Node ${process.version}`,
    '',
    ...startsAt.flatMap(startTable),
    `Output line → SSE stream: ${params.streamRuns} runs × ${params.streamLines} lines, one run at a time` +
      (stream.excluded ? ` (${stream.excluded} lines written before the stream listened, left out)` : ''),
    row('', 'SSE stream', 'LISTEN (raw)', 'SSE/raw'),
    row('latency p50 (ms)', f(s.p50, 2), f(nfy.p50, 2), f(s.p50 / nfy.p50, 2)),
    row('latency p99 (ms)', f(s.p99, 2), f(nfy.p99, 2), f(s.p99 / nfy.p99, 2)),
    row('latency max (ms)', f(s.max, 2), f(nfy.max, 2), ''),
    '',
    ...notes.map((n) => `  ${n}`),
    '',
  ].join('\n');
}
