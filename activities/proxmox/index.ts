import { ApplicationFailure, heartbeat, sleep } from '@temporalio/activity';
import { fileURLToPath } from 'node:url';
import type { RunLog } from '../db/run-log';
import { runPlaybook } from './ansible';
import { backoff, nonRetryable, pveOf, retryable, runTaskOnce, waitForTask, type Pve, type PveParams } from './api';
import { connectProxmox, type ProxmoxApi } from './client';
import { isAlreadyExists, parseProxmoxError, toProxmoxFailure } from './errors';
import type {
  BackupInput,
  BackupRecord,
  CloneTemplateInput,
  CloneTemplateResult,
  ConfigureVmInput,
  CreateLxcInput,
  DeleteBackupInput,
  DestroyVmInput,
  GuestKind,
  GuestRef,
  GuestStatus,
  ListBackupsInput,
  NetworkSettings,
  PickNodeInput,
  ProxmoxClusterDirectory,
  ResizeDiskInput,
  ResizeGuestInput,
  RunAnsibleInput,
  RunAnsibleResult,
  SnapshotInput,
  StopVmInput,
  WaitForAgentIpInput,
} from './types';

export type * from './types';
export { toProxmoxFailure, parseProxmoxError } from './errors';

/** infra/ansible of this checkout. */
export const DEFAULT_ANSIBLE_DIR = fileURLToPath(new URL('../../infra/ansible', import.meta.url));

export interface ProxmoxActivityDeps {
  clusters: ProxmoxClusterDirectory;
  runLog: RunLog;
  /** Where playbooks and roles live; default infra/ansible of this checkout. */
  ansibleDir?: string;
}

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/** The line in a guest's description that says which operation created it. */
export const ownerMark = (owner: string) => `keelson-owner=${owner}`;
const isOwnedBy = (description: unknown, owner: string) =>
  typeof description === 'string' && description.split('\n').some((line) => line.trim() === ownerMark(owner));

interface ClusterResource {
  id: string;
  type: string;
  vmid: number;
  node: string;
  name?: string;
  status?: string;
  lock?: string;
  template?: number;
}

type GuestConfig = Record<string, string | number | undefined> & { digest?: string; description?: string };

const kindOf = (ref: { kind?: GuestKind }): GuestKind => ref.kind ?? 'qemu';
const label = (ref: { vmid: number; kind?: GuestKind }) => `${kindOf(ref) === 'qemu' ? 'VM' : 'CT'} ${ref.vmid}`;
const guestPath = (ref: { node: string; vmid: number; kind?: GuestKind }) => ['nodes', ref.node, kindOf(ref), ref.vmid];

/** `key=value,…` (with an optional leading bare value) → ordered entries. */
function parseProps(value: string | number | undefined): Array<[string, string]> {
  return String(value ?? '')
    .split(',')
    .filter(Boolean)
    .map((part) => {
      const eq = part.indexOf('=');
      return eq < 0 ? ['', part] : [part.slice(0, eq), part.slice(eq + 1)];
    });
}

const formatProps = (entries: Array<[string, string]>) => entries.map(([k, v]) => (k ? `${k}=${v}` : v)).join(',');

/** `size=32G` of a disk property string → bytes. */
function diskBytes(value: string | number | undefined): number | undefined {
  const size = parseProps(value).find(([key]) => key === 'size')?.[1];
  const match = size ? /^(\d+(?:\.\d+)?)([KMGT]?)$/.exec(size) : null;
  if (!match) return undefined;
  const unit = { '': 1, K: 1024, M: MiB, G: GiB, T: 1024 * GiB }[match[2] as '' | 'K' | 'M' | 'G' | 'T'];
  return Math.round(Number(match[1]) * unit);
}

function ipConfigOf(network: NetworkSettings): string {
  if (network.ip === 'dhcp') return 'ip=dhcp';
  return network.gateway ? `ip=${network.ip},gw=${network.gateway}` : `ip=${network.ip}`;
}

function isUsableIpv4(address: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(address) && !address.startsWith('127.') && !address.startsWith('169.254.');
}

/**
 * Proxmox activities: provisioning (node, VMID, clone or create, configure, start, address,
 * Ansible) and lifecycle (power, resize, snapshots, backups, destroy) of QEMU VMs and LXC
 * containers. Each is idempotent: it looks before it acts, adopts what an earlier attempt made,
 * and treats "already in the wanted state" as success.
 */
export function createProxmoxActivities({ clusters, runLog, ansibleDir = DEFAULT_ANSIBLE_DIR }: ProxmoxActivityDeps) {
  // Reads (task and agent polls, lookups) go over kept-alive connections, one pool per cluster
  // for the process, so a poll costs a request instead of a TLS handshake on both ends; writes
  // keep one connection per call. A changed connection (new token, CA) gets a new pool.
  const readers = new Map<string, { key: string; api: ProxmoxApi }>();
  async function pveFor(clusterId: string): Promise<Pve> {
    const connection = await clusters.connect(clusterId);
    const key = JSON.stringify([connection.url, connection.tokenId, connection.tokenSecret, connection.caPem]);
    let reader = readers.get(clusterId);
    if (reader?.key !== key) {
      reader = { key, api: connectProxmox(connection, { keepAlive: true }) };
      readers.set(clusterId, reader);
    }
    return pveOf(connectProxmox(connection), reader.api);
  }

  async function findGuest(pve: Pve, vmid: number): Promise<ClusterResource | undefined> {
    const resources = await pve.get<ClusterResource[]>(['cluster', 'resources'], { type: 'vm' }, `look up guest ${vmid}`);
    return resources.find((resource) => Number(resource.vmid) === vmid);
  }

  async function readConfig(pve: Pve, ref: { node: string; vmid: number; kind?: GuestKind }): Promise<GuestConfig> {
    return pve.get<GuestConfig>([...guestPath(ref), 'config'], undefined, `read the config of ${label(ref)}`);
  }

  /** Is the guest with this id ours (created by `owner`)? Reads its description. */
  async function ownership(pve: Pve, vmid: number, owner: string): Promise<{ exists: false } | { exists: true; ours: boolean; resource: ClusterResource }> {
    const resource = await findGuest(pve, vmid);
    if (!resource) return { exists: false };
    const config = await readConfig(pve, { node: resource.node, vmid, kind: resource.type as GuestKind });
    return { exists: true, ours: isOwnedBy(config.description, owner), resource };
  }

  const vmidTaken = (vmid: number, resource?: ClusterResource) =>
    nonRetryable('VmidTaken', `VMID ${vmid} is already used by another guest${resource?.name ? ` (${resource.name} on ${resource.node})` : ''}`);

  /**
   * Waits until the guest exists without a config lock (a clone or create holds `clone`/`create`
   * until its task ends). A guest that disappears meanwhile was removed by its failed task.
   */
  async function waitUntilUnlocked(pve: Pve, ref: { node: string; vmid: number; kind?: GuestKind }, action: string): Promise<void> {
    for (const delay of backoff()) {
      const resource = await findGuest(pve, ref.vmid);
      if (!resource) throw retryable('ProxmoxTaskFailed', `${action}: ${label(ref)} disappeared while it was locked (its task failed); trying again`);
      const config = await readConfig(pve, { ...ref, node: resource.node }).catch((err: unknown) => {
        // Removed between the two reads: the same "its task failed" as above.
        if (err instanceof ApplicationFailure && err.type === 'GuestNotFound') throw retryable('ProxmoxTaskFailed', `${action}: ${label(ref)} disappeared while it was locked; trying again`);
        throw err;
      });
      heartbeat({ waiting: 'lock', lock: config.lock });
      if (config.lock === undefined) return;
      await sleep(delay);
    }
  }

  async function currentStatus(pve: Pve, ref: GuestRef): Promise<string> {
    const status = await pve.get<{ status: string }>([...guestPath(ref), 'status', 'current'], undefined, `read the status of ${label(ref)}`);
    return status.status;
  }

  /** Starts a power task; "already running" / "not running" inside the task count as done. */
  async function power(pve: Pve, ref: GuestRef, action: 'start' | 'stop' | 'shutdown' | 'reboot', params: PveParams = {}): Promise<void> {
    const what = `${action} ${label(ref)}`;
    try {
      await runTaskOnce(pve, what, () => pve.post([...guestPath(ref), 'status', action], params, what));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (action === 'start' && /already running/i.test(message)) return;
      if ((action === 'stop' || action === 'shutdown') && /not running/i.test(message)) return;
      throw err;
    }
  }

  async function resizeMainDisk(pve: Pve, ref: GuestRef, sizeGiB: number, diskKey?: string): Promise<{ resized: boolean }> {
    const disk = diskKey ?? (kindOf(ref) === 'qemu' ? 'scsi0' : 'rootfs');
    const config = await readConfig(pve, ref);
    const current = diskBytes(config[disk]);
    if (config[disk] === undefined) throw nonRetryable('ProxmoxInvalidParameters', `${label(ref)} has no disk ${disk}`);
    const wanted = Math.round(sizeGiB * GiB);
    if (current !== undefined && current >= wanted) {
      if (current > wanted) throw nonRetryable('DiskShrinkRefused', `${label(ref)}: disk ${disk} is ${(current / GiB).toFixed(1)} GiB; shrinking to ${sizeGiB} GiB is not supported`);
      return { resized: false };
    }
    const what = `grow disk ${disk} of ${label(ref)} to ${sizeGiB} GiB`;
    await runTaskOnce(pve, what, () => pve.put<string | null>([...guestPath(ref), 'resize'], { disk, size: `${sizeGiB}G` }, what));
    return { resized: true };
  }

  const activities = {
    /** The requested node if it is online and fits, else the online node with most free memory that fits. */
    async pickNode(input: PickNodeInput): Promise<{ node: string }> {
      const pve = await pveFor(input.clusterId);
      const nodes = await pve.get<Array<{ node: string; status: string; maxcpu?: number; maxmem?: number; mem?: number }>>(['nodes'], undefined, 'list nodes');
      const fits = (n: (typeof nodes)[number]) => Number(n.maxcpu ?? 0) >= input.cores && Number(n.maxmem ?? 0) - Number(n.mem ?? 0) >= input.memoryMiB * MiB;
      if (input.node) {
        const node = nodes.find((n) => n.node === input.node);
        if (!node) throw nonRetryable('NodeUnavailable', `node "${input.node}" is not part of the cluster (nodes: ${nodes.map((n) => n.node).join(', ')})`);
        if (node.status !== 'online') throw retryable('ProxmoxUnreachable', `node "${input.node}" is ${node.status}`);
        if (!fits(node)) throw nonRetryable('NoCapacity', `node "${input.node}" cannot fit ${input.cores} cores and ${input.memoryMiB} MiB`);
        return { node: node.node };
      }
      const candidates = nodes
        .filter((n) => n.status === 'online' && fits(n))
        .sort((a, b) => Number(b.maxmem ?? 0) - Number(b.mem ?? 0) - (Number(a.maxmem ?? 0) - Number(a.mem ?? 0)));
      if (candidates.length === 0) {
        if (!nodes.some((n) => n.status === 'online')) throw retryable('ProxmoxUnreachable', 'no node of the cluster is online');
        throw nonRetryable('NoCapacity', `no online node has ${input.cores} cores and ${input.memoryMiB} MiB free`);
      }
      return { node: candidates[0]!.node };
    },

    /**
     * The next free VMID — a proposal, not a reservation: two callers may get the same one. The
     * clone or create that follows is the reservation; it fails with `VmidTaken` when it loses,
     * and the workflow asks again.
     */
    async reserveVmid({ clusterId }: { clusterId: string }): Promise<{ vmid: number }> {
      const pve = await pveFor(clusterId);
      const vmid = Number(await pve.get<number | string>(['cluster', 'nextid'], undefined, 'get the next free VMID'));
      return { vmid };
    },

    /**
     * Clones the template into a new VM marked with `owner`, waits for the clone task and for the
     * lock to go. A VM with this id that carries the mark is adopted (a retried attempt, or the
     * client repeating a POST that had succeeded); one without it means the id was taken.
     */
    async cloneTemplate(input: CloneTemplateInput): Promise<CloneTemplateResult> {
      const pve = await pveFor(input.clusterId);
      const action = `clone template ${input.templateVmid} to VM ${input.vmid}`;
      const ref = { node: input.node, vmid: input.vmid, kind: 'qemu' as const };
      let adopted = false;

      const existing = await ownership(pve, input.vmid, input.owner);
      if (existing.exists) {
        if (!existing.ours) throw vmidTaken(input.vmid, existing.resource);
        adopted = true;
      } else {
        const template = await findGuest(pve, input.templateVmid);
        if (!template || template.type !== 'qemu') throw nonRetryable('TemplateNotFound', `${action}: template VM ${input.templateVmid} does not exist`);
        if (Number(template.template) !== 1) throw nonRetryable('TemplateNotFound', `${action}: VM ${input.templateVmid} is not a template`);
        const params: PveParams = {
          newid: input.vmid,
          name: input.name,
          description: ownerMark(input.owner),
          full: input.full ?? true,
          storage: input.full === false ? undefined : input.storage,
          target: input.node !== template.node ? input.node : undefined,
        };
        let upid: string | undefined;
        try {
          upid = await pve.raw<string>('post', ['nodes', template.node, 'qemu', input.templateVmid, 'clone'], params);
        } catch (err) {
          const info = parseProxmoxError(err);
          if (!isAlreadyExists(info)) throw toProxmoxFailure(err, action);
          const again = await ownership(pve, input.vmid, input.owner);
          if (again.exists && !again.ours) throw vmidTaken(input.vmid, again.resource);
          adopted = true;
        }
        if (upid) {
          heartbeat({ upid, action });
          await waitForTask(pve, upid, action);
        }
      }
      await waitUntilUnlocked(pve, ref, action);
      const resource = await findGuest(pve, input.vmid);
      return { vmid: input.vmid, node: resource?.node ?? input.node, adopted };
    },

    /** Cloud-init and hardware settings in one config write, guarded by the config digest. */
    async configureVm(input: ConfigureVmInput): Promise<void> {
      const pve = await pveFor(input.clusterId);
      const config = await readConfig(pve, input);
      // Keep the NIC model and MAC the clone was given; only the bridge is ours to set.
      const net = parseProps(config.net0 ?? 'virtio');
      const bridge = input.network.bridge ?? 'vmbr0';
      const netWithBridge = net.some(([k]) => k === 'bridge') ? net.map(([k, v]): [string, string] => [k, k === 'bridge' ? bridge : v]) : [...net, ['bridge', bridge] as [string, string]];
      await pve.put(
        [...guestPath(input), 'config'],
        {
          cores: input.cores,
          memory: String(input.memoryMiB),
          net0: formatProps(netWithBridge),
          ipconfig0: ipConfigOf(input.network),
          nameserver: input.network.nameserver,
          ciuser: input.ciUser,
          // PVE wants the keys URL-encoded by the caller (and `+` as %2B, which this does).
          sshkeys: encodeURIComponent(input.sshKeys.map((key) => key.trim()).join('\n')),
          agent: '1',
          tags: input.tags?.length ? input.tags.join(';') : undefined,
          digest: config.digest,
        },
        `configure ${label(input)}`,
      );
    },

    async resizeDisk(input: ResizeDiskInput): Promise<{ resized: boolean }> {
      return resizeMainDisk(await pveFor(input.clusterId), input, input.sizeGiB, input.disk);
    },

    async startVm(ref: GuestRef): Promise<void> {
      const pve = await pveFor(ref.clusterId);
      if ((await currentStatus(pve, ref)) === 'running') return;
      await power(pve, ref, 'start');
    },

    /**
     * Polls the guest agent (QEMU) or the container's interfaces (LXC) until a non-loopback IPv4
     * address shows up. "Agent not running yet" is the normal answer while the guest boots.
     */
    async waitForAgentIp(input: WaitForAgentIpInput): Promise<{ ip: string; interface: string }> {
      const pve = await pveFor(input.clusterId);
      const kind = kindOf(input);
      for (const delay of backoff()) {
        try {
          if (kind === 'qemu') {
            const reply = await pve.raw<{ result?: Array<{ name: string; 'ip-addresses'?: Array<{ 'ip-address': string; 'ip-address-type': string }> }> }>(
              'get',
              [...guestPath(input), 'agent', 'network-get-interfaces'],
            );
            for (const iface of reply.result ?? []) {
              if (iface.name === 'lo') continue;
              const v4 = (iface['ip-addresses'] ?? []).find((a) => a['ip-address-type'] === 'ipv4' && isUsableIpv4(a['ip-address']));
              if (v4) return { ip: v4['ip-address'], interface: iface.name };
            }
          } else {
            const interfaces = await pve.raw<Array<{ name: string; inet?: string }>>('get', [...guestPath(input), 'interfaces']);
            for (const iface of interfaces ?? []) {
              const ip = iface.inet?.split('/')[0];
              if (iface.name !== 'lo' && ip && isUsableIpv4(ip)) return { ip, interface: iface.name };
            }
          }
        } catch (err) {
          const info = parseProxmoxError(err);
          if (/No QEMU guest agent configured/i.test(info.reason)) {
            throw nonRetryable('AgentNotConfigured', `${label(input)} has no QEMU guest agent configured (agent: 1 in its config, and qemu-guest-agent in the image)`);
          }
          const failure = toProxmoxFailure(err, `read the addresses of ${label(input)}`);
          // Booting guests answer "agent not running" / "not running" (500); keep waiting on
          // those and on anything else worth retrying. Missing guests and refusals are final.
          const booting = info.status === 500 && /not running/i.test(info.reason);
          if (!booting && failure.nonRetryable) throw failure;
        }
        heartbeat({ waiting: 'agent' });
        if (Date.now() + delay > input.deadline) break;
        await sleep(delay);
      }
      throw nonRetryable('AgentTimeout', `${label(input)} reported no IPv4 address before the deadline (${new Date(input.deadline).toISOString()})`);
    },

    async runAnsible(input: RunAnsibleInput): Promise<RunAnsibleResult> {
      return runPlaybook(runLog, ansibleDir, input);
    },

    /** Graceful shutdown with a timeout, then a hard stop if the guest is still running. */
    async stopVm(input: StopVmInput): Promise<void> {
      const pve = await pveFor(input.clusterId);
      if ((await currentStatus(pve, input)) !== 'running') return;
      try {
        await power(pve, input, 'shutdown', { timeout: input.shutdownTimeoutSeconds ?? 60 });
      } catch (err) {
        if (err instanceof ApplicationFailure && !err.nonRetryable) throw err;
        // A guest that ignores ACPI (or has no agent) fails the shutdown task: stop it hard.
      }
      if ((await currentStatus(pve, input)) === 'running') await power(pve, input, 'stop');
    },

    /**
     * Stops (hard) and deletes the guest with its disks and every reference to it. A guest that
     * is already gone is success; with `owner`, a guest without that mark is left alone.
     */
    async destroyVm(input: DestroyVmInput): Promise<{ destroyed: boolean }> {
      const pve = await pveFor(input.clusterId);
      const resource = await findGuest(pve, input.vmid);
      if (!resource) return { destroyed: false };
      const ref: GuestRef = { ...input, node: resource.node, kind: resource.type as GuestKind };
      if (input.owner !== undefined) {
        const config = await readConfig(pve, ref);
        if (!isOwnedBy(config.description, input.owner)) return { destroyed: false };
      }
      const action = `destroy ${label(ref)}`;
      try {
        if (resource.status === 'running' || (await currentStatus(pve, ref)) === 'running') await power(pve, ref, 'stop');
        await runTaskOnce(pve, action, () => pve.del([...guestPath(ref)], { purge: 1, 'destroy-unreferenced-disks': 1 }, action));
      } catch (err) {
        if (err instanceof ApplicationFailure && err.type === 'GuestNotFound') return { destroyed: true };
        if (err instanceof ApplicationFailure && /does not exist/i.test(err.message)) return { destroyed: true };
        throw err;
      }
      return { destroyed: true };
    },

    /** Creates a container from an ostemplate (a `vzcreate` task), adopting one a previous attempt made. */
    async createLxc(input: CreateLxcInput): Promise<{ vmid: number; node: string; adopted: boolean }> {
      const pve = await pveFor(input.clusterId);
      const action = `create CT ${input.vmid} from ${input.ostemplate}`;
      const ref = { node: input.node, vmid: input.vmid, kind: 'lxc' as const };
      let adopted = false;
      const existing = await ownership(pve, input.vmid, input.owner);
      if (existing.exists) {
        if (!existing.ours) throw vmidTaken(input.vmid, existing.resource);
        adopted = true;
      } else {
        const net = [['name', 'eth0'], ['bridge', input.network.bridge ?? 'vmbr0'], ['ip', input.network.ip], ...(input.network.gateway ? [['gw', input.network.gateway]] : [])];
        let upid: string | undefined;
        try {
          upid = await pve.raw<string>('post', ['nodes', input.node, 'lxc'], {
            vmid: input.vmid,
            ostemplate: input.ostemplate,
            hostname: input.hostname,
            description: ownerMark(input.owner),
            // Unlike QEMU's sshkeys, LXC takes the keys as plain text.
            'ssh-public-keys': input.sshKeys.map((key) => key.trim()).join('\n'),
            net0: net.map(([k, v]) => `${k}=${v}`).join(','),
            rootfs: `${input.storage ?? 'local-lvm'}:${input.rootfsGiB}`,
            cores: input.cores,
            memory: input.memoryMiB,
            nameserver: input.network.nameserver,
            unprivileged: input.unprivileged ?? true,
            tags: input.tags?.length ? input.tags.join(';') : undefined,
          });
        } catch (err) {
          const info = parseProxmoxError(err);
          if (info.status === 500 && /volume '.*' does not exist/i.test(info.reason)) {
            throw nonRetryable('TemplateNotFound', `${action}: ostemplate ${input.ostemplate} does not exist on ${input.node}`);
          }
          if (!isAlreadyExists(info)) throw toProxmoxFailure(err, action);
          const again = await ownership(pve, input.vmid, input.owner);
          if (again.exists && !again.ours) throw vmidTaken(input.vmid, again.resource);
          adopted = true;
        }
        if (upid) {
          heartbeat({ upid, action });
          await waitForTask(pve, upid, action);
        }
      }
      await waitUntilUnlocked(pve, ref, action);
      return { vmid: input.vmid, node: input.node, adopted };
    },

    /** Name, power state, size and marks of a guest; `GuestNotFound` when there is none. */
    async getGuest(ref: GuestRef): Promise<GuestStatus> {
      const pve = await pveFor(ref.clusterId);
      const resource = await findGuest(pve, ref.vmid);
      if (!resource) throw nonRetryable('GuestNotFound', `${label(ref)} does not exist`);
      const kind = resource.type as GuestKind;
      const actual = { ...ref, node: resource.node, kind };
      const config = await readConfig(pve, actual);
      const disk = diskBytes(config[kind === 'qemu' ? 'scsi0' : 'rootfs']);
      return {
        vmid: ref.vmid,
        node: resource.node,
        kind,
        name: String(config.name ?? config.hostname ?? resource.name ?? ''),
        status: resource.status ?? (await currentStatus(pve, actual)),
        ...(config.lock !== undefined ? { lock: String(config.lock) } : {}),
        cores: Number(config.cores ?? 1),
        memoryMiB: Number(parseProps(config.memory).find(([k]) => k === '' || k === 'current')?.[1] ?? config.memory ?? 0),
        ...(disk !== undefined ? { diskGiB: disk / GiB } : {}),
        ...(config.description !== undefined ? { description: String(config.description) } : {}),
        tags: String(config.tags ?? '')
          .split(/[;,\s]+/)
          .filter(Boolean),
      };
    },

    /** Reboots a running guest; a stopped one is started. */
    async rebootVm(ref: GuestRef): Promise<void> {
      const pve = await pveFor(ref.clusterId);
      if ((await currentStatus(pve, ref)) !== 'running') return power(pve, ref, 'start');
      await power(pve, ref, 'reboot');
    },

    /** CPU and memory by config write; the main disk grows (never shrinks). */
    async resizeGuest(input: ResizeGuestInput): Promise<void> {
      const pve = await pveFor(input.clusterId);
      if (input.cores !== undefined || input.memoryMiB !== undefined) {
        const config = await readConfig(pve, input);
        await pve.put(
          [...guestPath(input), 'config'],
          {
            cores: input.cores,
            memory: input.memoryMiB === undefined ? undefined : kindOf(input) === 'qemu' ? String(input.memoryMiB) : input.memoryMiB,
            digest: config.digest,
          },
          `resize ${label(input)}`,
        );
      }
      if (input.diskGiB !== undefined) await resizeMainDisk(pve, input, input.diskGiB);
    },

    async createSnapshot(input: SnapshotInput): Promise<void> {
      const pve = await pveFor(input.clusterId);
      const snapshots = await pve.get<Array<{ name: string }>>([...guestPath(input), 'snapshot'], undefined, `list snapshots of ${label(input)}`);
      if (snapshots.some((s) => s.name === input.name)) return;
      const action = `snapshot ${label(input)} as "${input.name}"`;
      try {
        await runTaskOnce(pve, action, () => pve.post([...guestPath(input), 'snapshot'], { snapname: input.name, description: input.description }, action));
      } catch (err) {
        if (err instanceof ApplicationFailure && /already used/i.test(err.message)) return;
        throw err;
      }
    },

    /** Rolls back to a snapshot; a guest that was running is running again afterwards. */
    async rollbackSnapshot(input: SnapshotInput): Promise<void> {
      const pve = await pveFor(input.clusterId);
      const running = (await currentStatus(pve, input)) === 'running';
      const action = `roll ${label(input)} back to "${input.name}"`;
      await runTaskOnce(pve, action, () => pve.post([...guestPath(input), 'snapshot', input.name, 'rollback'], { start: running ? 1 : undefined }, action));
      if (running && (await currentStatus(pve, input)) !== 'running') await power(pve, input, 'start');
    },

    async deleteSnapshot(input: SnapshotInput): Promise<void> {
      const pve = await pveFor(input.clusterId);
      const snapshots = await pve.get<Array<{ name: string }>>([...guestPath(input), 'snapshot'], undefined, `list snapshots of ${label(input)}`);
      if (!snapshots.some((s) => s.name === input.name)) return;
      const action = `delete snapshot "${input.name}" of ${label(input)}`;
      try {
        await runTaskOnce(pve, action, () => pve.del([...guestPath(input), 'snapshot', input.name], undefined, action));
      } catch (err) {
        if (err instanceof ApplicationFailure && /does not exist/i.test(err.message)) return;
        throw err;
      }
    },

    /** A vzdump backup; returns the new archive (a retried attempt waits for its own task). */
    async backupVm(input: BackupInput): Promise<BackupRecord> {
      const pve = await pveFor(input.clusterId);
      const storage = input.storage ?? 'local';
      const before = new Set((await listBackups(pve, input, storage)).map((b) => b.volid));
      const action = `back up ${label(input)} to ${storage}`;
      await runTaskOnce(pve, action, () =>
        pve.post(['nodes', input.node, 'vzdump'], { vmid: String(input.vmid), storage, mode: input.mode ?? 'snapshot', compress: input.compress ?? 'zstd' }, action),
      );
      const after = await listBackups(pve, input, storage);
      const made = after.find((b) => !before.has(b.volid)) ?? after[0];
      if (!made) throw retryable('ProxmoxTaskFailed', `${action}: the backup task succeeded but no archive is listed`);
      return made;
    },

    /** The guest's backups on a storage, newest first. */
    async listBackups(input: ListBackupsInput): Promise<BackupRecord[]> {
      return listBackups(await pveFor(input.clusterId), input, input.storage ?? 'local');
    },

    async deleteBackup(input: DeleteBackupInput): Promise<void> {
      const pve = await pveFor(input.clusterId);
      const storage = input.volid.split(':')[0]!;
      const action = `delete backup ${input.volid}`;
      try {
        await runTaskOnce(pve, action, () => pve.del(['nodes', input.node, 'storage', storage, 'content', input.volid], undefined, action));
      } catch (err) {
        if (err instanceof ApplicationFailure && (err.type === 'GuestNotFound' || /does not exist/i.test(err.message))) return;
        throw err;
      }
    },
  };

  async function listBackups(pve: Pve, ref: GuestRef, storage: string): Promise<BackupRecord[]> {
    const items = await pve.get<Array<{ volid: string; ctime?: number | string; size?: number | string; vmid?: number | string }>>(
      ['nodes', ref.node, 'storage', storage, 'content'],
      { content: 'backup', vmid: ref.vmid },
      `list backups of ${label(ref)}`,
    );
    return items
      .filter((item) => item.vmid === undefined || Number(item.vmid) === ref.vmid)
      .map((item) => ({ volid: item.volid, ctime: Number(item.ctime ?? 0), size: Number(item.size ?? 0) }))
      .sort((a, b) => b.ctime - a.ctime || b.volid.localeCompare(a.volid));
  }

  return activities;
}

export type ProxmoxActivities = ReturnType<typeof createProxmoxActivities>;
