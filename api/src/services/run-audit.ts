import type { AuditEntry } from '@keelson/db';
import { auditLog, auditSweeps, tenants } from '@keelson/db/schema';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal as proto } from '@temporalio/proto';
import { eq, inArray } from 'drizzle-orm';
import type { AppDeps } from '../deps';
import { payloadCodec } from './payload-codec';
import { type PeriodicSweep, startPeriodicSweep } from './periodic-sweep';
import { toDate } from './temporal-decoding';

/**
 * The memo field in which a run started through the API carries its own start row (sealed with
 * the organization's data key like every payload): everything but the run id, which only the
 * start returns. The run is the row's write-ahead record (decision 0037).
 */
export const RUN_AUDIT_MEMO = 'keelsonAudit';

/** What a run carries in {@link RUN_AUDIT_MEMO}. */
export type RunAuditMemo = AuditEntry & { key: string };

/** The start row of a run, from what the run carries and its id. */
export function runStartRow(memo: RunAuditMemo, runId: string): AuditEntry {
  return { ...memo, details: { ...memo.details, runId } };
}

const SWEEP_NAME = 'run.start';
/** How often each API process sweeps (the first sweep runs when it starts). */
export const RUN_AUDIT_SWEEP_MS = 60_000;
/** How old a run must be before a sweep looks at it: its own process writes its row within milliseconds. */
export const RUN_AUDIT_MARGIN_MS = 15_000;
/**
 * How far back each sweep looks again before where the last one stopped: a run that shows up in
 * Temporal's visibility late (a slow visibility store, clocks apart) is still found.
 */
export const RUN_AUDIT_OVERLAP_MS = 120_000;
const PAGE_SIZE = 1_000;
const MAX_BACKOFF_MS = 10 * 60_000;

type SweepDeps = Pick<AppDeps, 'db' | 'temporal' | 'keys' | 'config'>;

/**
 * Starts the sweep's record where there is none yet: runs started from now on are swept. Called
 * by an API process before it serves (runs started before any process had this record were
 * audited before they were answered, as the API did then).
 */
export async function markRunAuditSweep(deps: Pick<AppDeps, 'db'>, now = new Date()): Promise<void> {
  await deps.db.insert(auditSweeps).values({ name: SWEEP_NAME, sweptUntil: now }).onConflictDoNothing();
}

export interface RunAuditSweepResult {
  /** Runs in the window that carry a start row. */
  examined: number;
  /** Start rows the sweep wrote (their process died, or its insert failed, before they were written). */
  written: number;
  /** Runs whose memo this process could not open (keys it does not hold): named here, not written. */
  unreadable: string[];
}

/**
 * One sweep: every run on the core task queue that started between where the last sweep stopped
 * (less {@link RUN_AUDIT_OVERLAP_MS}) and `marginMs` ago, and carries a start row, gets that row
 * if it has none. Rows are keyed by the run's audit key, so the row its process wrote, or one this
 * or another sweep wrote, is never written again; a reset or continued run carries the same key
 * as the run it came from. The sweep record is locked while sweeping (SKIP LOCKED): processes
 * take turns. Returns null when another process is sweeping.
 */
export async function sweepRunAudits(
  deps: SweepDeps,
  opts: { marginMs?: number; overlapMs?: number; now?: Date } = {},
): Promise<RunAuditSweepResult | null> {
  const now = opts.now ?? new Date();
  const until = new Date(now.getTime() - (opts.marginMs ?? RUN_AUDIT_MARGIN_MS));
  return deps.db.transaction(async (tx) => {
    const [mark] = await tx
      .select({ sweptUntil: auditSweeps.sweptUntil })
      .from(auditSweeps)
      .where(eq(auditSweeps.name, SWEEP_NAME))
      .for('update', { skipLocked: true });
    if (!mark) return null;
    const result: RunAuditSweepResult = { examined: 0, written: 0, unreadable: [] };
    if (until <= mark.sweptUntil) return result;
    const from = new Date(mark.sweptUntil.getTime() - (opts.overlapMs ?? RUN_AUDIT_OVERLAP_MS));
    const query = `TaskQueue = ${literal(deps.config.coreTaskQueue)} AND StartTime >= ${literal(from.toISOString())} AND StartTime < ${literal(until.toISOString())}`;
    const codec = payloadCodec(deps as AppDeps);
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await deps.temporal.workflowService.listWorkflowExecutions({ namespace: deps.config.namespace, query, pageSize: PAGE_SIZE, nextPageToken });
      const rows = new Map<string, StartRow>();
      for (const info of page.executions ?? []) {
        const carried = info.memo?.fields?.[RUN_AUDIT_MEMO];
        if (!carried) continue;
        result.examined++;
        try {
          const [opened] = await codec.decode([carried]);
          const memo = defaultPayloadConverter.fromPayload<RunAuditMemo>(opened!);
          if (typeof memo?.key !== 'string' || typeof memo.tenantId !== 'string') throw new Error('not a start row');
          // Dated when the run started, not when the sweep found it.
          if (!rows.has(memo.key)) rows.set(memo.key, { ...runStartRow(memo, firstRunId(info)), createdAt: toDate(info.startTime) ?? undefined });
        } catch {
          result.unreadable.push(info.execution?.workflowId ?? '');
        }
      }
      result.written += await writeMissing(tx, [...rows.values()]);
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    await tx.update(auditSweeps).set({ sweptUntil: until }).where(eq(auditSweeps.name, SWEEP_NAME));
    return result;
  });
}

/** The run the start made: a reset or continued run names it as its first. */
function firstRunId(info: proto.api.workflow.v1.IWorkflowExecutionInfo): string {
  return info.firstRunId || info.execution?.runId || '';
}

const literal = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

type StartRow = AuditEntry & { createdAt?: Date };

type Tx = Parameters<Parameters<AppDeps['db']['transaction']>[0]>[0];

/** Inserts the rows whose key is not recorded yet (of organizations that still exist); returns how many. */
async function writeMissing(tx: Tx, rows: StartRow[]): Promise<number> {
  if (!rows.length) return 0;
  const keys = rows.map((r) => r.key!);
  const recorded = new Set((await tx.select({ key: auditLog.key }).from(auditLog).where(inArray(auditLog.key, keys))).map((r) => r.key));
  const missing = rows.filter((r) => !recorded.has(r.key!));
  if (!missing.length) return 0;
  // An organization deleted since took its audit log with it.
  const live = new Set((await tx.select({ id: tenants.id }).from(tenants).where(inArray(tenants.id, [...new Set(missing.map((r) => r.tenantId))]))).map((t) => t.id));
  const values = missing.filter((r) => live.has(r.tenantId)).map((r) => ({ ...r, details: r.details ?? {} }));
  if (!values.length) return 0;
  const inserted = await tx.insert(auditLog).values(values).onConflictDoNothing().returning({ id: auditLog.id });
  return inserted.length;
}

export type RunAuditSweeper = PeriodicSweep<RunAuditSweepResult | null>;

/**
 * The sweep each API process runs: at once (start rows a dead process left unwritten), then every
 * `everyMs`, backing off (doubling, at most ten minutes) while sweeps fail, stopped on shutdown.
 */
export function startRunAuditSweeper(
  deps: SweepDeps,
  opts: { everyMs?: number; marginMs?: number; onSwept?: (result: RunAuditSweepResult) => void; onError?: (err: unknown) => void } = {},
): RunAuditSweeper {
  return startPeriodicSweep(() => sweepRunAudits(deps, { marginMs: opts.marginMs }), {
    everyMs: opts.everyMs ?? RUN_AUDIT_SWEEP_MS,
    maxBackoffMs: MAX_BACKOFF_MS,
    onSwept: (result) => {
      if (result) opts.onSwept?.(result);
    },
    onError: opts.onError,
  });
}
