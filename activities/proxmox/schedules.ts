import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleSpec } from '@temporalio/client';

/**
 * Per-guest backup schedules: a Temporal Schedule that starts the `vmBackup` workflow (see
 * workflows/vm-lifecycle.ts) on a calendar. Called by the API or a worker when a guest's backup
 * policy is set or changed; creating is idempotent (an existing schedule is updated in place).
 */

/** The workflow type the schedule starts (`vmBackup` in workflows/vm-lifecycle.ts). */
const VM_BACKUP_WORKFLOW_TYPE = 'vmBackup';

export const vmBackupScheduleId = (vmId: string) => `vm/${vmId}/backup-schedule`;

export interface VmBackupScheduleOptions {
  /** Keelson's id of the VM (business key of the schedule and of the runs it starts). */
  vmId: string;
  /** The task queue whose worker runs the Proxmox workflows (the core queue). */
  taskQueue: string;
  /** When to back up, e.g. `{ calendars: [{ hour: 3, minute: 30 }] }` or `{ cronExpressions: ['30 3 * * *'] }`. */
  spec: ScheduleSpec;
  /** The `vmBackup` input: guest, storage, retention (`keep`), tenant and actor. */
  input: {
    tenantId: string;
    actor: string;
    clusterId: string;
    node: string;
    vmid: number;
    kind?: 'qemu' | 'lxc';
    storage?: string;
    keep: number;
    mode?: 'snapshot' | 'suspend' | 'stop';
    compress?: 'zstd' | 'gzip' | 'lzo' | '0';
  };
  /** Search attributes for the runs it starts (tenant, operation, resources). */
  searchAttributes?: Record<string, string[]>;
  paused?: boolean;
}

/** Creates the VM's backup schedule, or updates it to these settings if it exists. */
export async function upsertVmBackupSchedule(client: Client, options: VmBackupScheduleOptions): Promise<{ scheduleId: string; created: boolean }> {
  const scheduleId = vmBackupScheduleId(options.vmId);
  const action = {
    type: 'startWorkflow' as const,
    workflowType: VM_BACKUP_WORKFLOW_TYPE,
    args: [options.input],
    taskQueue: options.taskQueue,
    workflowId: `vm/${options.vmId}/backup`,
    // A backup that runs past its next slot is not doubled up: the next one is skipped.
    workflowExecutionTimeout: '1 day',
    ...(options.searchAttributes ? { searchAttributes: options.searchAttributes } : {}),
  };
  try {
    await client.schedule.create({
      scheduleId,
      spec: options.spec,
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
      state: { paused: options.paused ?? false, note: `backups of VM ${options.vmId}, keep ${options.input.keep}` },
    });
    return { scheduleId, created: true };
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(scheduleId).update((previous) => ({
    ...previous,
    spec: options.spec,
    action,
    policies: { ...previous.policies, overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
    state: { ...previous.state, paused: options.paused ?? previous.state.paused },
  }));
  return { scheduleId, created: false };
}

/** Removes the VM's backup schedule (the VM was destroyed); a missing schedule is fine. */
export async function deleteVmBackupSchedule(client: Client, vmId: string): Promise<void> {
  try {
    await client.schedule.getHandle(vmBackupScheduleId(vmId)).delete();
  } catch (err) {
    if ((err as Error).name !== 'ScheduleNotFoundError') throw err;
  }
}
