import { MonitoringSchedule, WorkflowType } from '@keelson/common/constants';
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptionsAction } from '@temporalio/client';
import type { CollectInput } from '../../workflows/monitoring/collect';

/**
 * Monitoring's three Temporal Schedules for one core task queue: collection, rule evaluation and
 * retention. A round still running when the next is due is skipped (overlap SKIP), so a slow
 * collection never piles up. Creating is idempotent: existing schedules are updated in place, so
 * every core worker can call this at start.
 */
export interface MonitoringScheduleOptions {
  coreTaskQueue: string;
  /** Default 60 s. */
  collectEveryMs?: number;
  /** Default 30 s. Alert workflows use it to tell a stale observation. */
  evaluateEveryMs?: number;
  /** Default one hour. */
  maintenanceEveryMs?: number;
  /** A node worker that does not pick a collection up this fast counts as unreachable. Default: the collection interval. */
  nodeTimeoutMs?: number;
  paused?: boolean;
}

export const DEFAULT_INTERVALS = { collectEveryMs: 60_000, evaluateEveryMs: 30_000, maintenanceEveryMs: 3_600_000 } as const;

async function upsert(client: Client, scheduleId: string, everyMs: number, action: ScheduleOptionsAction, paused: boolean, note: string): Promise<void> {
  const spec = { intervals: [{ every: everyMs }] };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: Math.max(everyMs, 60_000) };
  try {
    await client.schedule.create({ scheduleId, spec, action, policies, state: { paused, note } });
    return;
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, spec, action, policies: { ...previous.policies, ...policies }, state: { ...previous.state, paused } }));
}

export async function ensureMonitoringSchedules(client: Client, options: MonitoringScheduleOptions): Promise<void> {
  const collectEveryMs = options.collectEveryMs ?? DEFAULT_INTERVALS.collectEveryMs;
  const evaluateEveryMs = options.evaluateEveryMs ?? DEFAULT_INTERVALS.evaluateEveryMs;
  const maintenanceEveryMs = options.maintenanceEveryMs ?? DEFAULT_INTERVALS.maintenanceEveryMs;
  const q = options.coreTaskQueue;
  const paused = options.paused ?? false;
  const collectInput: CollectInput = { nodeTimeoutMs: options.nodeTimeoutMs ?? collectEveryMs };
  await upsert(
    client,
    MonitoringSchedule.collect(q),
    collectEveryMs,
    { type: 'startWorkflow', workflowType: WorkflowType.monitoringCollect, args: [collectInput], taskQueue: q, workflowId: `${MonitoringSchedule.collect(q)}/run`, workflowExecutionTimeout: Math.max(collectEveryMs * 5, 300_000) },
    paused,
    'metrics of Docker nodes, containers, apps and Proxmox clusters',
  );
  await upsert(
    client,
    MonitoringSchedule.evaluate(q),
    evaluateEveryMs,
    { type: 'startWorkflow', workflowType: WorkflowType.monitoringEvaluate, args: [], taskQueue: q, workflowId: `${MonitoringSchedule.evaluate(q)}/run`, workflowExecutionTimeout: Math.max(evaluateEveryMs * 5, 300_000) },
    paused,
    'alert rule evaluation',
  );
  await upsert(
    client,
    MonitoringSchedule.maintenance(q),
    maintenanceEveryMs,
    { type: 'startWorkflow', workflowType: WorkflowType.monitoringMaintenance, args: [], taskQueue: q, workflowId: `${MonitoringSchedule.maintenance(q)}/run`, workflowExecutionTimeout: '1 hour' },
    paused,
    'metrics rollups and retention',
  );
}

/** Removes this queue's monitoring schedules (tests, decommissioning); missing ones are fine. */
export async function deleteMonitoringSchedules(client: Client, coreTaskQueue: string): Promise<void> {
  for (const id of [MonitoringSchedule.collect(coreTaskQueue), MonitoringSchedule.evaluate(coreTaskQueue), MonitoringSchedule.maintenance(coreTaskQueue)]) {
    await client.schedule
      .getHandle(id)
      .delete()
      .catch((err: Error) => {
        if (err.name !== 'ScheduleNotFoundError') throw err;
      });
  }
}
