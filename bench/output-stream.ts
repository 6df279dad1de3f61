/**
 * Output-to-stream latency: from an activity writing a line of run output to that line arriving
 * on the run's SSE stream over real HTTP. The baseline is the floor under it: the same writes'
 * NOTIFY arriving at a plain LISTEN connection in this process.
 */
import { RUN_LOG_CHANNEL, WorkflowId, WorkflowType } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { BenchPlatform } from './platform';
import { readSse, wallClockMs } from './sse';
import { summarize, type LatencySummary } from './stats';

export interface StreamOptions {
  /** Measured runs; they run one at a time. */
  runs: number;
  /** Lines each run's activity writes. */
  lines: number;
  /** Unmeasured runs first (the API's LISTEN connection opens on the first stream). */
  warmupRuns: number;
  /**
   * How long Temporal holds each run before its first workflow task, so the stream is open and
   * listening before the activity writes (`startDelay`). Lines written before the stream's first
   * event arrived are not counted; the result says how many there were.
   */
  gateMs: number;
}

export interface StreamResult {
  /** Arrival on the SSE stream − the row's created_at. */
  sse: LatencySummary;
  /** Arrival of the NOTIFY on a plain LISTEN connection − the row's created_at. */
  notify: LatencySummary;
  /** Lines written before the stream was listening, left out of `sse`. */
  excluded: number;
}

interface RowTime {
  id: number;
  /** created_at in epoch milliseconds with Postgres's microsecond precision. */
  atMs: number;
}

export async function measureOutputStream(p: BenchPlatform, opts: StreamOptions, progress: (msg: string) => void): Promise<StreamResult> {
  const listener = new pg.Client({ connectionString: p.dbUrl });
  await listener.connect();
  const notified = new Map<string, number[]>();
  listener.on('notification', (msg) => {
    const at = wallClockMs();
    const list = notified.get(msg.payload ?? '');
    if (list) list.push(at);
  });
  await listener.query(`LISTEN ${RUN_LOG_CHANNEL}`);

  const sse: number[] = [];
  const notify: number[] = [];
  let excluded = 0;
  try {
    for (let i = 0; i < opts.warmupRuns + opts.runs; i++) {
      const measured = i >= opts.warmupRuns;
      const r = await streamOneRun(p, listener, notified, opts);
      if (measured) {
        sse.push(...r.sse);
        notify.push(...r.notify);
        excluded += r.excluded;
      }
      if (measured && (i - opts.warmupRuns + 1) % 5 === 0) progress(`stream: run ${i - opts.warmupRuns + 1}/${opts.runs}`);
    }
  } finally {
    await listener.end();
  }
  return { sse: summarize(sse), notify: summarize(notify), excluded };
}

async function streamOneRun(p: BenchPlatform, listener: pg.Client, notified: Map<string, number[]>, opts: StreamOptions) {
  const workflowId = WorkflowId.noop(randomUUID());
  const lines = Array.from({ length: opts.lines }, (_, i) => `line ${String(i + 1).padStart(4, '0')} ${'·'.repeat(60)}`);
  notified.set(workflowId, []);

  // Started as the API starts system.noop (same id form, search attributes and input), but held
  // back by startDelay: the API generates the id and the stream is a 404 until the run exists,
  // so an API start would race the activity against the stream's opening.
  await p.client.workflow.start(WorkflowType.noop, {
    taskQueue: p.coreTaskQueue,
    workflowId,
    args: [{ echo: lines, tenantId: p.tenantId, actor: p.actor }],
    typedSearchAttributes: runSearchAttributes({ tenantId: p.tenantId, operation: 'system.noop', resources: [], actor: p.actor }),
    startDelay: `${opts.gateMs}ms`,
  });

  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 60_000);
  const received: Array<{ id: number; at: string; data: string; receivedAt: number }> = [];
  let listeningAt = NaN;
  let endStatus = '';
  try {
    const res = await fetch(`${p.baseUrl}/api/runs/${encodeURIComponent(workflowId)}/stream`, { headers: p.auth, signal: abort.signal });
    if (res.status !== 200) throw new Error(`stream of ${workflowId} answered ${res.status}: ${await res.text()}`);
    await readSse(res, (e) => {
      // The stream subscribes to NOTIFY before it sends anything, so its first event proves it listens.
      if (Number.isNaN(listeningAt)) listeningAt = e.receivedAt;
      if (e.event === 'log') {
        const d = e.data as { id: number; at: string; data: string };
        received.push({ id: d.id, at: d.at, data: d.data, receivedAt: e.receivedAt });
      } else if (e.event === 'end') {
        endStatus = (e.data as { status: string }).status;
      }
    });
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  if (endStatus !== 'Completed') throw new Error(`run ${workflowId} ended ${endStatus || 'without an end event'}`);

  // The event's `at` is created_at cut to milliseconds; the row has microseconds.
  const { rows } = await listener.query<RowTime>(
    `select id::float8 as id, (extract(epoch from created_at) * 1000)::float8 as "atMs" from run_logs where workflow_id = $1 order by id`,
    [workflowId],
  );
  if (rows.length !== lines.length || received.length !== lines.length) {
    throw new Error(`run ${workflowId}: ${lines.length} lines echoed, ${rows.length} rows written, ${received.length} streamed`);
  }
  const byId = new Map(rows.map((r) => [r.id, r.atMs]));
  const sse: number[] = [];
  let excluded = 0;
  received.forEach((e, i) => {
    const atMs = byId.get(e.id);
    if (atMs === undefined || e.data !== `${lines[i]}\n`) throw new Error(`run ${workflowId}: line ${i + 1} arrived out of order or changed`);
    if (Math.floor(atMs) !== Date.parse(e.at)) throw new Error(`run ${workflowId}: event at ${e.at} is not the row's created_at`);
    if (atMs < listeningAt) excluded++;
    else sse.push(e.receivedAt - atMs);
  });

  // One NOTIFY per line, in commit order, which is id order for one writer.
  const arrivals = notified.get(workflowId)!;
  notified.delete(workflowId);
  if (arrivals.length !== rows.length) throw new Error(`run ${workflowId}: ${rows.length} rows but ${arrivals.length} notifications`);
  const notify = rows.map((r, i) => arrivals[i]! - r.atMs);
  return { sse, notify, excluded };
}
