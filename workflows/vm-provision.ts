import { ApplicationFailure, CancellationScope, isCancellation, log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { GuestDbActivities } from '@keelson/activities/db/guests';
import type { ProxmoxActivities } from '@keelson/activities/proxmox/index';
import type { NetworkSettings, ProxmoxFailureType } from '@keelson/activities/proxmox/types';
import { WorkflowId, WorkflowType } from '@keelson/common/constants';
import { describeFailure, failureType, rootCause } from './failures';
import { guestStacks, runGuestStack } from './terraform/guest-stack';
import type { RunContext } from './run-context';

/** The workflow type, and the readable business-keyed id of a VM's provisioning run. */
export const VM_PROVISION_WORKFLOW_TYPE = WorkflowType.vmProvision;
export const vmProvisionWorkflowId = WorkflowId.vmProvision;

export interface VmProvisionInput extends RunContext {
  clusterId: string;
  /** The VM's name in Proxmox and its hostname (DNS label). */
  name: string;
  /** Pin the VM to this node; otherwise the node with most free memory. */
  node?: string;
  /** The cloud-init template to clone (e.g. 9000). */
  templateVmid: number;
  cores: number;
  memoryMiB: number;
  /** Grow the boot disk (scsi0) to this size; the template's size when absent. */
  diskGiB?: number;
  /** Target storage for the full clone; the template's when absent. */
  storage?: string;
  network: NetworkSettings;
  /** The cloud-init user Ansible connects as; default `keelson`. */
  ciUser?: string;
  /** The platform's key pair for the first login (cloud-init user); the private half never reaches Proxmox. */
  provisioningKey: { publicKey: string; privateKey: string };
  /** The customer's admin login and its keys, created by Ansible. */
  adminUser: string;
  adminSshKeys: string[];
  /** Extra variables for infra/ansible/base.yml (`keelson_install_packages`…). */
  ansibleVars?: Record<string, unknown>;
  /** How long the guest agent may take to report an address; default 300 s. */
  agentTimeoutSeconds?: number;
  tags?: string[];
  /**
   * Keelson's record of the guest (table `guests`), when the API started the run: the outcome is
   * recorded there. Runs without one (older histories, direct starts) record nothing.
   */
  guestId?: string;
  /**
   * How the VM is made: Keelson's own calls to the Proxmox API (default), or Terraform with the
   * `infra/terraform/proxmox-vm` module (a stack per guest, applied as a child run). Ansible
   * configures it either way.
   */
  via?: 'api' | 'terraform';
}

export interface VmProvisionResult {
  vmid: number;
  node: string;
  name: string;
  ip: string;
  adminUser: string;
}

/** The provisioning steps, in order; a failure names the one it happened in. */
export type VmProvisionStep =
  | 'pick node'
  | 'reserve VMID'
  | 'clone template'
  | 'configure'
  | 'resize disk'
  | 'start'
  | 'wait for agent IP'
  | 'ansible'
  | 'terraform apply';

// Transient Proxmox failures (locks, an unreachable node) are retried with backoff; the activities
// mark permanent ones non-retryable, so those fail at once.
const proxmoxRetry = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 8 } as const;
const proxmoxCalls = { startToCloseTimeout: '2m', heartbeatTimeout: '30s', retry: proxmoxRetry } as const;
/** Clones copy disks: minutes for a large template. Heartbeats show it is still going. */
const proxmoxTasks = { startToCloseTimeout: '30m', heartbeatTimeout: '30s', retry: proxmoxRetry } as const;
const ansibleRun = { startToCloseTimeout: '30m', heartbeatTimeout: '1m', retry: { ...proxmoxRetry, maximumAttempts: 4 } } as const;
/** Compensation must happen: more attempts, and long enough to outlast a busy node. */
const cleanupCalls = { startToCloseTimeout: '10m', heartbeatTimeout: '30s', retry: { ...proxmoxRetry, maximumAttempts: 20 } } as const;

/** How often a freshly proposed VMID may turn out to be taken by a concurrent create. */
const maxVmidAttempts = 10;

const px = proxyActivities<ProxmoxActivities>(proxmoxCalls);
const pxTasks = proxyActivities<ProxmoxActivities>(proxmoxTasks);
const pxAnsible = proxyActivities<ProxmoxActivities>(ansibleRun);
const pxCleanup = proxyActivities<ProxmoxActivities>(cleanupCalls);
/** Postgres bookkeeping on the core queue: short calls, retried (without limit) until the database answers. */
export const guestRecordCalls = { startToCloseTimeout: '30s', retry: { initialInterval: '500ms', maximumInterval: '30s' } } as const;
const records = proxyActivities<GuestDbActivities>(guestRecordCalls);

const isFailureType = (err: unknown, type: ProxmoxFailureType) => failureType(err, '') === type;

/**
 * Provision a VM on Proxmox from a cloud-init template: pick a node, reserve a VMID, clone,
 * configure (cloud-init user, keys, network), grow the disk, start, wait for the guest agent to
 * report an address, run the base playbook. If any step fails, what was created is stopped and
 * destroyed again (in reverse order, even when the run is cancelled), and the run fails with
 * `ProvisionFailed` naming the step.
 */
export async function vmProvision(input: VmProvisionInput): Promise<VmProvisionResult> {
  if (input.via === 'terraform') return provisionSaga(input, (saga) => throughTerraform(input, saga));
  return provisionSaga(input, (saga) => throughProxmoxApi(input, saga));
}

/** Where a provisioning saga is, and what undoes what it made so far (newest first). */
interface Saga {
  step: VmProvisionStep;
  compensations: Array<() => Promise<unknown>>;
}

/**
 * Runs the steps; if one fails, the compensations run, the guest's record says why, and the run
 * fails naming the step. The record of a finished VM is written after the saga (see
 * recordProvisioned).
 */
async function provisionSaga(input: VmProvisionInput, steps: (saga: Saga) => Promise<VmProvisionResult>): Promise<VmProvisionResult> {
  const saga: Saga = { step: 'pick node', compensations: [] };
  let result: VmProvisionResult;
  try {
    result = await steps(saga);
  } catch (err) {
    const failure = await compensate(err, saga.step, saga.compensations, 'VM');
    await recordProvisionFailure(input, failure);
    throw failure;
  }
  await recordProvisioned(input, result, input.diskGiB);
  return result;
}

/** Asks the guest agent for the VM's address, for as long as the input allows (default 300 s). */
async function agentAddress(input: VmProvisionInput, ref: { clusterId: string; node: string; vmid: number; kind: 'qemu' }): Promise<string> {
  const agentTimeoutSeconds = input.agentTimeoutSeconds ?? 300;
  const { ip } = await proxyActivities<ProxmoxActivities>({ ...proxmoxCalls, startToCloseTimeout: `${agentTimeoutSeconds + 60}s` }).waitForAgentIp({
    ...ref,
    deadline: Date.now() + agentTimeoutSeconds * 1000,
  });
  return ip;
}

/** Keelson's own calls to the Proxmox API. */
async function throughProxmoxApi(input: VmProvisionInput, saga: Saga): Promise<VmProvisionResult> {
  const owner = workflowInfo().workflowId;
  const { compensations } = saga;
  const { node } = await px.pickNode({ clusterId: input.clusterId, node: input.node, cores: input.cores, memoryMiB: input.memoryMiB });

  let vmid: number | undefined;
  for (let attempt = 1; vmid === undefined; attempt++) {
    saga.step = 'reserve VMID';
    const proposal = await px.reserveVmid({ clusterId: input.clusterId });
    saga.step = 'clone template';
    // Registered before the clone: a clone whose activity failed late (a timeout, a lost
    // worker) may still have made the VM. The owner mark keeps it from touching anyone else's.
    const undoClone = () => pxCleanup.destroyVm({ clusterId: input.clusterId, node, vmid: proposal.vmid, owner });
    compensations.unshift(undoClone);
    try {
      await pxTasks.cloneTemplate({
        clusterId: input.clusterId,
        node,
        templateVmid: input.templateVmid,
        vmid: proposal.vmid,
        name: input.name,
        owner,
        storage: input.storage,
      });
      vmid = proposal.vmid;
    } catch (err) {
      if (!isFailureType(err, 'VmidTaken') || attempt >= maxVmidAttempts) throw err;
      // Another create won this id between nextid and our clone: not ours to undo; ask again.
      compensations.splice(compensations.indexOf(undoClone), 1);
      log.info('VMID taken by a concurrent create, picking another', { vmid: proposal.vmid });
    }
  }
  const ref = { clusterId: input.clusterId, node, vmid, kind: 'qemu' as const };
  const ciUser = input.ciUser ?? 'keelson';

  saga.step = 'configure';
  await px.configureVm({
    ...ref,
    cores: input.cores,
    memoryMiB: input.memoryMiB,
    network: input.network,
    ciUser,
    sshKeys: [input.provisioningKey.publicKey],
    tags: ['keelson', ...(input.tags ?? [])],
  });

  if (input.diskGiB !== undefined) {
    saga.step = 'resize disk';
    await pxTasks.resizeDisk({ ...ref, sizeGiB: input.diskGiB });
  }

  saga.step = 'start';
  compensations.unshift(() => pxCleanup.stopVm({ ...ref, shutdownTimeoutSeconds: 10 }));
  await pxTasks.startVm(ref);

  saga.step = 'wait for agent IP';
  const ip = await agentAddress(input, ref);

  saga.step = 'ansible';
  await runBasePlaybook(input, { host: ip, user: ciUser, vmid });
  return { vmid, node, name: input.name, ip, adminUser: input.adminUser };
}

/**
 * The same VM through Terraform: pick a node, apply the guest's stack (clone, CPU, memory, disk,
 * cloud-init, started, the agent's address), then the base playbook. A failure destroys what the
 * stack made through Terraform as well, so its state and Proxmox agree on "nothing".
 */
async function throughTerraform(input: VmProvisionInput, saga: Saga): Promise<VmProvisionResult> {
  const ciUser = input.ciUser ?? 'keelson';
  const { node } = await px.pickNode({ clusterId: input.clusterId, node: input.node, cores: input.cores, memoryMiB: input.memoryMiB });
  saga.step = 'terraform apply';
  const stack = await guestStacks.terraformGuestStack({
    tenantId: input.tenantId,
    workflowId: workflowInfo().workflowId,
    guestId: input.guestId,
    clusterId: input.clusterId,
    name: input.name,
    node,
    templateVmid: input.templateVmid,
    cores: input.cores,
    memoryMiB: input.memoryMiB,
    diskGiB: input.diskGiB,
    storage: input.storage,
    network: input.network,
    ciUser,
    sshPublicKeys: [input.provisioningKey.publicKey],
  });
  // Registered before the apply: an apply that failed half-way may have made the VM.
  saga.compensations.unshift(() => runGuestStack(input, stack, 'destroy'));
  await runGuestStack(input, stack, 'apply');
  const made = await guestStacks.terraformGuestOutputs({ tenantId: input.tenantId, stackId: stack.stackId });

  saga.step = 'wait for agent IP';
  // The module waits for the agent's address itself; a guest that reported none yet is asked again.
  const ip = made.ip ?? (await agentAddress(input, { clusterId: input.clusterId, node: made.node, vmid: made.vmid, kind: 'qemu' }));

  saga.step = 'ansible';
  await runBasePlaybook(input, { host: ip, user: ciUser, vmid: made.vmid });
  return { vmid: made.vmid, node: made.node, name: input.name, ip, adminUser: input.adminUser };
}

/** What VM and container provisioning share in their input. */
type ProvisionCommon = RunContext &
  Pick<VmProvisionInput, 'guestId' | 'provisioningKey' | 'adminUser' | 'adminSshKeys' | 'ansibleVars' | 'cores' | 'memoryMiB'>;

/** Configures a freshly started guest with infra/ansible/base.yml, logging in as `user`. */
export async function runBasePlaybook(input: ProvisionCommon, guest: { host: string; user: string; vmid: number }): Promise<void> {
  await pxAnsible.runAnsible({
    tenantId: input.tenantId,
    host: guest.host,
    user: guest.user,
    privateKey: input.provisioningKey.privateKey,
    playbook: 'base.yml',
    extraVars: {
      ...input.ansibleVars,
      keelson_admin_user: input.adminUser,
      keelson_admin_ssh_keys: input.adminSshKeys,
      keelson_vmid: guest.vmid,
    },
  });
}

/**
 * Records a finished guest as running. Called after the saga, not inside it: a database that is
 * slow to answer must never trigger the compensation that destroys a finished guest.
 */
export async function recordProvisioned(input: ProvisionCommon, result: { vmid: number; node: string; ip: string }, diskGiB: number | undefined): Promise<void> {
  if (!input.guestId) return;
  await records.recordGuest({
    tenantId: input.tenantId,
    guestId: input.guestId,
    state: 'running',
    vmid: result.vmid,
    node: result.node,
    ip: result.ip,
    cores: input.cores,
    memoryMiB: input.memoryMiB,
    diskGiB,
  });
}

/** Marks the guest's record failed with the reason (even when the run was cancelled). */
export async function recordProvisionFailure(input: RunContext & { guestId?: string }, failure: unknown): Promise<void> {
  const guestId = input.guestId;
  if (!guestId) return;
  await CancellationScope.nonCancellable(() => records.recordGuest({ tenantId: input.tenantId, guestId, state: 'failed', error: describeFailure(failure) }));
}

/**
 * Runs the compensations in order (they were pushed newest first), never cancelled, then returns
 * the failure to throw: `ProvisionFailed` naming the step, with the original failure as cause.
 */
export async function compensate(err: unknown, step: string, compensations: Array<() => Promise<unknown>>, what: 'VM' | 'container'): Promise<unknown> {
  const reason = describeFailure(err);
  log.warn(`${what} provisioning failed, compensating`, { step, reason });
  await CancellationScope.nonCancellable(async () => {
    for (const undo of compensations) {
      try {
        await undo();
      } catch (undoErr) {
        // One failed undo must not keep the others from running; the operator sees it in history.
        log.error('compensation failed', { reason: describeFailure(undoErr) });
      }
    }
  });
  if (isCancellation(err)) return err;
  const cause = rootCause(err);
  return ApplicationFailure.create({
    type: 'ProvisionFailed',
    message: `${what} provisioning failed at step "${step}": ${reason}`,
    nonRetryable: true,
    cause: err as Error,
    details: [{ step, causeType: cause instanceof ApplicationFailure ? cause.type : undefined }],
  });
}
