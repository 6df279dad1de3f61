import { payloadCodec } from './payload-codec';
import { runLogs } from '@keelson/db/schema';
import { and, asc, eq, gt } from 'drizzle-orm';
import { hasPermission } from '../auth/middleware';
import { unavailableService } from '../errors';
import type { ServiceContext } from './context';
import { runLogHub } from './run-log-hub';
import { foldSteps } from './run-history';
import { requireRun } from './runs-service';
import { decodeFailures, EVENT_NAMES, payloadDecoder, statusName, toDate } from './temporal-decoding';

/** Position in a run's stream: the last history event id and the last output chunk id seen. */
export interface StreamCursor {
  history: number;
  log: number;
}

export function parseCursor(raw: string | undefined | null): StreamCursor {
  const m = /^(\d+)-(\d+)$/.exec(raw ?? '');
  return m ? { history: Number(m[1]), log: Number(m[2]) } : { history: 0, log: 0 };
}

export const formatCursor = (c: StreamCursor) => `${c.history}-${c.log}`;

export interface StreamEvent {
  event: 'history' | 'steps' | 'log' | 'end';
  id: string;
  data: unknown;
}

const LOG_BATCH = 500;
const POLL_MS = 2000;
/** Backoff while Temporal or Postgres does not answer (a restart): the stream waits, it does not end. */
const OUTAGE_BACKOFF_MS = { first: 250, max: 2000 } as const;

/**
 * Runs `read` until it succeeds, waiting out an unreachable Temporal or Postgres with capped
 * backoff; other errors, and an aborted stream, end it. `onRetry` runs before each new attempt.
 */
async function throughOutages<T>(signal: AbortSignal, read: () => Promise<T>, onRetry: () => void = () => {}): Promise<T> {
  for (let delay: number = OUTAGE_BACKOFF_MS.first; ; delay = Math.min(delay * 2, OUTAGE_BACKOFF_MS.max)) {
    try {
      return await read();
    } catch (err) {
      if (signal.aborted || !unavailableService(err)) throw err;
      await sleep(delay, signal);
      if (signal.aborted) throw err;
      onRetry();
    }
  }
}

/**
 * Streams one run: its history events and folded steps (long-polled from Temporal) and its
 * output chunks (Postgres, woken by NOTIFY), in order, each stamped with the cursor a client
 * resumes from. Ends after the run closes and its output is drained.
 */
export async function streamRun(
  ctx: ServiceContext,
  workflowId: string,
  from: StreamCursor,
  send: (e: StreamEvent) => Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  const { description } = await requireRun(ctx, workflowId);
  const { temporal: client, config, db, pool } = ctx.deps;
  const runId = description.runId;
  const tenantId = ctx.principal.tenantId;
  const codec = payloadCodec(ctx.deps);
  const decodeMemo = payloadDecoder(codec);
  const decode = hasPermission(ctx.principal, 'workflow.payloads') ? decodeMemo : undefined;
  const cursor = { ...from };
  let queue = Promise.resolve();
  const emit = (event: StreamEvent['event'], data: unknown, advance: () => void) =>
    (queue = queue.then(() => {
      advance();
      return send({ event, id: formatCursor(cursor), data });
    }));

  let historyDone = false;
  /** Aborted when the history ends, so the pending-activity watcher stops at once. */
  const closed = new AbortController();
  const watching = AbortSignal.any([signal, closed.signal]);
  let wakeLogs: () => void = () => {};

  const events: Parameters<typeof foldSteps>[0] = [];
  let lastPending = '';
  const sendSteps = async (force: boolean) => {
    const pending = (await client.workflow.getHandle(workflowId, runId).describe()).raw.pendingActivities ?? [];
    await decodeFailures(codec, pending);
    const key = JSON.stringify(pending.map((p) => [p.activityId, p.attempt, p.state]));
    if (!force && key === lastPending) return;
    lastPending = key;
    const last = events.at(-1);
    const closed = last ? /^WorkflowExecution(Completed|Failed|Canceled|Terminated|TimedOut|ContinuedAsNew)$/.test(EVENT_NAMES[last.eventType ?? 0] ?? '') : false;
    await emit('steps', { steps: await foldSteps(events, closed ? [] : pending, decode, decodeMemo), closed }, () => {});
  };

  const history = async () => {
    let token: Uint8Array | undefined;
    try {
      while (!signal.aborted) {
        // After an outage the history is read again from its start (a page token need not
        // survive a server restart); events already sent are skipped by the cursor below.
        const res = await throughOutages(
          signal,
          () =>
            untilAborted(
              signal,
              client.workflowService.getWorkflowExecutionHistory({
                namespace: config.namespace,
                execution: { workflowId, runId },
                nextPageToken: token,
                waitNewEvent: true,
              }),
            ),
          () => {
            token = undefined;
            events.length = 0;
          },
        );
        const batch = res.history?.events ?? [];
        await decodeFailures(codec, batch);
        events.push(...batch);
        const fresh = batch.filter((e) => Number(e.eventId) > cursor.history);
        if (fresh.length) {
          const lastId = Number(fresh.at(-1)!.eventId);
          await emit(
            'history',
            { events: fresh.map((e) => ({ eventId: Number(e.eventId), eventType: EVENT_NAMES[e.eventType ?? 0], time: toDate(e.eventTime)?.toISOString() ?? null })) },
            () => (cursor.history = lastId),
          );
        }
        if (batch.length) await sendSteps(true).catch((err: unknown) => {
          // The folded steps follow at the next change; an outage must not end the stream.
          if (!unavailableService(err)) throw err;
        });
        if (!res.nextPageToken?.length) break;
        token = res.nextPageToken;
      }
    } finally {
      historyDone = true;
      closed.abort();
      wakeLogs();
    }
  };

  // Retries change pending activities without adding history events; describe shows them.
  const pendingWatch = async () => {
    while (!watching.aborted) {
      await sleep(POLL_MS, watching);
      if (!historyDone && events.length) await sendSteps(false).catch(() => {});
    }
  };

  const logs = async () => {
    const unsubscribe = runLogHub(pool).subscribe(workflowId, () => wakeLogs());
    signal.addEventListener('abort', () => wakeLogs(), { once: true });
    try {
      for (;;) {
        const doneBeforeRead = historyDone;
        const rows = await throughOutages(signal, () =>
          db
            .select()
            .from(runLogs)
            .where(and(eq(runLogs.tenantId, tenantId), eq(runLogs.workflowId, workflowId), gt(runLogs.id, cursor.log)))
            .orderBy(asc(runLogs.id))
            .limit(LOG_BATCH),
        );
        for (const r of rows) {
          await emit(
            'log',
            { id: r.id, runId: r.runId, activityId: r.activityId, attempt: r.attempt, stream: r.stream, data: r.data, at: r.createdAt.toISOString() },
            () => (cursor.log = r.id),
          );
        }
        if (signal.aborted || (doneBeforeRead && rows.length < LOG_BATCH)) return;
        if (rows.length === LOG_BATCH) continue;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, POLL_MS);
          wakeLogs = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      unsubscribe();
    }
  };

  try {
    await Promise.all([history(), logs(), pendingWatch()]);
  } catch (err) {
    if (!signal.aborted) throw err;
  }
  if (signal.aborted) return;
  const final = await throughOutages(signal, () => client.workflow.getHandle(workflowId, runId).describe());
  await emit('end', { status: statusName(final.raw.workflowExecutionInfo?.status), runId }, () => {});
  await queue;
}

/**
 * `call`, or the signal's reason as soon as it aborts. The API's native connection to Temporal
 * does not cancel a call on abort (decision 0040): a closed stream stops waiting for its long poll
 * here, and Temporal ends the poll itself within its long-poll interval.
 */
function untilAborted<T>(signal: AbortSignal, call: Promise<T>): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', abort, { once: true });
    call.then(
      (value) => {
        signal.removeEventListener('abort', abort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', abort);
        reject(err as Error);
      },
    );
  });
}

function sleep(ms: number, signal: AbortSignal) {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
