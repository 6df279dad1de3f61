import { log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { ProxmoxActivities } from '@keelson/activities/proxmox/index';
import type { NetworkSettings } from '@keelson/activities/proxmox/types';
import { WorkflowId, WorkflowType } from '@keelson/common/constants';
import { failureType } from './failures';
import type { RunContext } from './run-context';
import { compensate, recordProvisioned, recordProvisionFailure, runBasePlaybook } from './vm-provision';

export const LXC_PROVISION_WORKFLOW_TYPE = WorkflowType.lxcProvision;
export const lxcProvisionWorkflowId = WorkflowId.lxcProvision;

export interface LxcProvisionInput extends RunContext {
  clusterId: string;
  /** The container's hostname (DNS label). */
  hostname: string;
  node?: string;
  /** `local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst`. */
  ostemplate: string;
  cores: number;
  memoryMiB: number;
  rootfsGiB: number;
  /** Root disk storage; default `local-lvm`. */
  storage?: string;
  network: NetworkSettings;
  /** The platform's key pair for root's first login; the private half never reaches Proxmox. */
  provisioningKey: { publicKey: string; privateKey: string };
  adminUser: string;
  adminSshKeys: string[];
  ansibleVars?: Record<string, unknown>;
  /** How long the container may take to show an address and answer SSH; default 120 s. */
  addressTimeoutSeconds?: number;
  tags?: string[];
  /** Keelson's record of the guest, when the API started the run: the outcome is recorded there. */
  guestId?: string;
}

export interface LxcProvisionResult {
  vmid: number;
  node: string;
  hostname: string;
  ip: string;
  adminUser: string;
}

export type LxcProvisionStep = 'pick node' | 'reserve VMID' | 'create container' | 'start' | 'wait for IP' | 'ansible';

const proxmoxRetry = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 8 } as const;
const proxmoxCalls = { startToCloseTimeout: '2m', heartbeatTimeout: '30s', retry: proxmoxRetry } as const;
const proxmoxTasks = { startToCloseTimeout: '30m', heartbeatTimeout: '30s', retry: proxmoxRetry } as const;
const cleanupCalls = { startToCloseTimeout: '10m', heartbeatTimeout: '30s', retry: { ...proxmoxRetry, maximumAttempts: 20 } } as const;
const maxVmidAttempts = 10;

const px = proxyActivities<ProxmoxActivities>(proxmoxCalls);
const pxTasks = proxyActivities<ProxmoxActivities>(proxmoxTasks);
const pxCleanup = proxyActivities<ProxmoxActivities>(cleanupCalls);

/**
 * Provision an LXC container: pick a node, reserve a VMID, create it from an ostemplate with
 * root's key and its network, start it, wait for its address, run the base playbook as root.
 * On failure the container is stopped and destroyed again and the run fails with
 * `ProvisionFailed` naming the step.
 */
export async function lxcProvision(input: LxcProvisionInput): Promise<LxcProvisionResult> {
  const owner = workflowInfo().workflowId;
  const compensations: Array<() => Promise<unknown>> = [];
  let step: LxcProvisionStep = 'pick node';
  let result: LxcProvisionResult;

  try {
    const { node } = await px.pickNode({ clusterId: input.clusterId, node: input.node, cores: input.cores, memoryMiB: input.memoryMiB });

    let vmid: number | undefined;
    for (let attempt = 1; vmid === undefined; attempt++) {
      step = 'reserve VMID';
      const proposal = await px.reserveVmid({ clusterId: input.clusterId });
      step = 'create container';
      const undoCreate = () => pxCleanup.destroyVm({ clusterId: input.clusterId, node, vmid: proposal.vmid, kind: 'lxc', owner });
      compensations.unshift(undoCreate);
      try {
        await pxTasks.createLxc({
          clusterId: input.clusterId,
          node,
          vmid: proposal.vmid,
          hostname: input.hostname,
          owner,
          ostemplate: input.ostemplate,
          cores: input.cores,
          memoryMiB: input.memoryMiB,
          rootfsGiB: input.rootfsGiB,
          storage: input.storage,
          network: input.network,
          sshKeys: [input.provisioningKey.publicKey],
          tags: ['keelson', ...(input.tags ?? [])],
        });
        vmid = proposal.vmid;
      } catch (err) {
        if (failureType(err, '') !== 'VmidTaken' || attempt >= maxVmidAttempts) throw err;
        compensations.splice(compensations.indexOf(undoCreate), 1);
        log.info('VMID taken by a concurrent create, picking another', { vmid: proposal.vmid });
      }
    }
    const ref = { clusterId: input.clusterId, node, vmid, kind: 'lxc' as const };

    step = 'start';
    compensations.unshift(() => pxCleanup.stopVm({ ...ref, shutdownTimeoutSeconds: 10 }));
    await pxTasks.startVm(ref);

    step = 'wait for IP';
    const timeoutSeconds = input.addressTimeoutSeconds ?? 120;
    const { ip } = await proxyActivities<ProxmoxActivities>({ ...proxmoxCalls, startToCloseTimeout: `${timeoutSeconds + 60}s` }).waitForAgentIp({
      ...ref,
      deadline: Date.now() + timeoutSeconds * 1000,
    });

    step = 'ansible';
    await runBasePlaybook(input, { host: ip, user: 'root', vmid });

    result = { vmid, node, hostname: input.hostname, ip, adminUser: input.adminUser };
  } catch (err) {
    const failure = await compensate(err, step, compensations, 'container');
    await recordProvisionFailure(input, failure);
    throw failure;
  }
  await recordProvisioned(input, result, input.rootfsGiB);
  return result;
}
