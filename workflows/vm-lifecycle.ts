import { ApplicationFailure, patched, proxyActivities } from '@temporalio/workflow';
import type { GuestDbActivities } from '@keelson/activities/db/guests';
import type { ProxmoxActivities } from '@keelson/activities/proxmox/index';
import type { BackupRecord, GuestKind } from '@keelson/activities/proxmox/types';
import { WorkflowType } from '@keelson/common/constants';
import type { RunContext } from './run-context';
import { guestStacks, runGuestStack } from './terraform/guest-stack';
import { guestRecordCalls } from './vm-provision';

/**
 * Day-two operations on a VM or container: power, resize, snapshots, destroy, and the backup run
 * that a Temporal Schedule starts per guest. Each is one short workflow, so every operation is a
 * run with its own history and result.
 */

export const VmLifecycleWorkflowType = {
  power: WorkflowType.vmPower,
  resize: WorkflowType.vmResize,
  snapshot: WorkflowType.vmSnapshot,
  rollback: WorkflowType.vmRollback,
  deleteSnapshot: WorkflowType.vmDeleteSnapshot,
  destroy: WorkflowType.vmDestroy,
  backup: WorkflowType.vmBackup,
} as const;

export const VmLifecycleWorkflowId = {
  action: (vmId: string, action: string, requestId: string) => `vm/${vmId}/${action}/${requestId}`,
  destroy: (vmId: string) => `vm/${vmId}/destroy`,
  /** Runs started by the backup schedule get the schedule's id plus a timestamp. */
  backupSchedule: (vmId: string) => `vm/${vmId}/backup-schedule`,
} as const;

/** The guest an operation acts on. */
export interface VmTarget extends RunContext {
  clusterId: string;
  node: string;
  vmid: number;
  /** Default `qemu`. */
  kind?: GuestKind;
  /** Keelson's record of the guest, when the API started the run: its new state is recorded there. */
  guestId?: string;
}

export type PowerAction = 'start' | 'stop' | 'shutdown' | 'reboot';

export interface VmPowerInput extends VmTarget {
  action: PowerAction;
  /** For `shutdown`: seconds before the guest is stopped hard; default 60. */
  shutdownTimeoutSeconds?: number;
}

export interface VmResizeInput extends VmTarget {
  cores?: number;
  memoryMiB?: number;
  /** Grow the main disk to this size (shrinking is refused). */
  diskGiB?: number;
}

export interface VmSnapshotInput extends VmTarget {
  snapshot: string;
  description?: string;
}

export interface VmDestroyInput extends VmTarget {
  /** The guest's name, typed by the person destroying it; anything else refuses the destroy. */
  confirmName: string;
}

export interface VmBackupInput extends VmTarget {
  /** Backup storage; default `local`. */
  storage?: string;
  /** Keep this many newest backups of the guest; older ones are deleted after a successful backup. */
  keep: number;
  mode?: 'snapshot' | 'suspend' | 'stop';
  compress?: 'zstd' | 'gzip' | 'lzo' | '0';
}

export interface VmBackupResult {
  backup: BackupRecord;
  deleted: string[];
  kept: string[];
}

const proxmoxRetry = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 8 } as const;
const px = proxyActivities<ProxmoxActivities>({ startToCloseTimeout: '2m', heartbeatTimeout: '30s', retry: proxmoxRetry });
/** Power changes, disk growth, snapshots: tasks of seconds to minutes. */
const pxTasks = proxyActivities<ProxmoxActivities>({ startToCloseTimeout: '15m', heartbeatTimeout: '30s', retry: proxmoxRetry });
/** A backup copies the whole disk. */
const pxBackup = proxyActivities<ProxmoxActivities>({ startToCloseTimeout: '6h', heartbeatTimeout: '1m', retry: { ...proxmoxRetry, maximumAttempts: 3 } });

const records = proxyActivities<GuestDbActivities>(guestRecordCalls);

/** Records what the operation changed on the guest's record, for runs the API started. */
async function recordGuest(input: VmTarget, patch: Omit<Parameters<GuestDbActivities['recordGuest']>[0], 'tenantId' | 'guestId'>): Promise<void> {
  if (input.guestId) await records.recordGuest({ tenantId: input.tenantId, guestId: input.guestId, ...patch });
}

const refOf = (input: VmTarget) => ({ clusterId: input.clusterId, node: input.node, vmid: input.vmid, kind: input.kind ?? ('qemu' as const) });

export async function vmPower(input: VmPowerInput): Promise<{ status: string }> {
  const ref = refOf(input);
  switch (input.action) {
    case 'start':
      await pxTasks.startVm(ref);
      break;
    case 'stop':
      // An explicit stop is a hard stop; a polite one is `shutdown`.
      await pxTasks.stopVm({ ...ref, shutdownTimeoutSeconds: 0 });
      break;
    case 'shutdown':
      await pxTasks.stopVm({ ...ref, shutdownTimeoutSeconds: input.shutdownTimeoutSeconds ?? 60 });
      break;
    case 'reboot':
      await pxTasks.rebootVm(ref);
      break;
  }
  const { status } = await px.getGuest(ref);
  if (status === 'running' || status === 'stopped') await recordGuest(input, { state: status });
  return { status };
}

export async function vmResize(input: VmResizeInput): Promise<{ cores: number; memoryMiB: number; diskGiB?: number }> {
  const ref = refOf(input);
  await pxTasks.resizeGuest({ ...ref, cores: input.cores, memoryMiB: input.memoryMiB, diskGiB: input.diskGiB });
  const guest = await px.getGuest(ref);
  await recordGuest(input, { cores: guest.cores, memoryMiB: guest.memoryMiB, diskGiB: guest.diskGiB });
  return { cores: guest.cores, memoryMiB: guest.memoryMiB, diskGiB: guest.diskGiB };
}

export async function vmSnapshot(input: VmSnapshotInput): Promise<void> {
  await pxTasks.createSnapshot({ ...refOf(input), name: input.snapshot, description: input.description });
}

export async function vmRollback(input: VmSnapshotInput): Promise<void> {
  await pxTasks.rollbackSnapshot({ ...refOf(input), name: input.snapshot });
}

export async function vmDeleteSnapshot(input: VmSnapshotInput): Promise<void> {
  await pxTasks.deleteSnapshot({ ...refOf(input), name: input.snapshot });
}

/** Destroys the guest and its disks, only when `confirmName` is the guest's name. */
export async function vmDestroy(input: VmDestroyInput): Promise<{ destroyed: boolean }> {
  const ref = refOf(input);
  const guest = await px.getGuest(ref);
  if (guest.name !== input.confirmName) {
    throw ApplicationFailure.create({
      type: 'ConfirmationMismatch',
      message: `refusing to destroy ${guest.kind === 'qemu' ? 'VM' : 'CT'} ${input.vmid}: the confirmation "${input.confirmName}" is not its name`,
      nonRetryable: true,
    });
  }
  // A VM provisioned through Terraform goes through Terraform too, so its stack's state agrees.
  const stack = input.guestId && patched('destroy-through-terraform') ? await guestStacks.terraformFindGuestStack({ tenantId: input.tenantId, guestId: input.guestId }) : null;
  if (stack) {
    await runGuestStack(input, stack, 'destroy');
    await recordGuest(input, { state: 'destroyed' });
    return { destroyed: true };
  }
  const result = await pxTasks.destroyVm(ref);
  await recordGuest(input, { state: 'destroyed' });
  return result;
}

/**
 * Backs the guest up with vzdump, then deletes its backups beyond the `keep` newest. Retention
 * runs only after a successful backup, so a failing backup never eats the last good ones.
 */
export async function vmBackup(input: VmBackupInput): Promise<VmBackupResult> {
  if (!Number.isInteger(input.keep) || input.keep < 1) {
    throw ApplicationFailure.create({ type: 'InvalidInput', message: `keep must be a whole number of at least 1, not ${input.keep}`, nonRetryable: true });
  }
  const ref = refOf(input);
  const backup = await pxBackup.backupVm({ ...ref, storage: input.storage, mode: input.mode, compress: input.compress });
  const backups = await px.listBackups({ ...ref, storage: input.storage });
  const kept = backups.slice(0, input.keep).map((b) => b.volid);
  const expired = backups.slice(input.keep).map((b) => b.volid);
  for (const volid of expired) await px.deleteBackup({ clusterId: input.clusterId, node: input.node, volid });
  return { backup, deleted: expired, kept };
}
