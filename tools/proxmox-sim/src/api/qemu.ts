import { randomUUID } from 'node:crypto';
import { taskUser } from '../auth';
import { assertDigest, configDigest, type Cluster } from '../cluster';
import { paramError, serverError } from '../http/errors';
import { configId, dnsName, formatPropertyString, formatSize, parsePropertyString, parseSize, storageId } from '../params/formats';
import { nodeSpec, optionalBoolean, vmidSpec, type Params } from '../params/schema';
import { generateMac } from '../state/layout';
import type { GuestConfig, GuestRecord } from '../state/model';
import { configLockPath, TaskFailure } from '../tasks';
import { applyConfig, changedKeys, configPrivilege, qemuConfigSchema, visibleConfig } from './guest-config';
import { guestUsage } from './metrics';
import { startPowerTask, type PowerAction } from './power';
import type { Route, RouteContext } from './router';
import { guestRrdData } from './rrd';
import { snapshotRoutes } from './snapshots';

const vmPath = (params: Params) => `/vms/${String(params.vmid)}`;
const audit = (params: Params) => ({ path: vmPath(params), privilege: 'VM.Audit' });
const guestParams = { node: nodeSpec, vmid: vmidSpec } as const;

/** A linked clone only snapshots; a full clone copies, ~2 s per GiB on a quiet local disk. */
const CLONE_MS = { base: 2000, perGiB: 2000, linked: 2000 };
const CONFIG_TASK_MS = 300;
const RESIZE_MS = 500;
const DESTROY_MS = 1500;

function qemuGuest(context: RouteContext): GuestRecord {
  return context.cluster.guest(String(context.params.node), Number(context.params.vmid), 'qemu');
}

/** The new VM's config: the source's, with fresh identity (MACs, UUIDs) and its own disks. */
function cloneConfig(cluster: Cluster, source: GuestRecord, newid: number, params: Params, full: boolean): { config: GuestConfig; copies: Array<{ key: string; from: string; to: string; size: number }> } {
  const config: GuestConfig = {};
  const copies: Array<{ key: string; from: string; to: string; size: number }> = [];
  const taken = cluster.usedVolids(newid);
  const disks = new Map(cluster.disks(source).map((disk) => [disk.key, disk]));
  for (const [key, value] of Object.entries(source.config)) {
    if (['template', 'lock', 'parent'].includes(key) || key.startsWith('unused')) continue;
    const disk = disks.get(key);
    if (disk && disk.volid.includes('cloudinit')) {
      const storage = params.storage === undefined ? disk.storage : String(params.storage);
      config[key] = `${storage}:vm-${newid}-cloudinit,media=cdrom`;
    } else if (disk && !disk.cdrom) {
      const entries = parsePropertyString(String(value), 'file');
      const storage = cluster.storage(full && params.storage !== undefined ? String(params.storage) : disk.storage);
      const fresh = cluster.newDiskVolid(storage, newid, taken, params.format === 'qcow2' ? 'qcow2' : 'raw');
      taken.add(fresh);
      // A linked clone's volume names its base, as PVE's LVM-thin/ZFS/RBD volids do.
      const volid = full ? fresh : `${disk.storage}:${disk.volid.split(':')[1]}/${fresh.split(':')[1]}`;
      entries.set('file', volid);
      config[key] = formatPropertyString(entries, 'file');
      copies.push({ key, from: disk.volid, to: volid, size: disk.size });
    } else if (/^net\d+$/.test(key)) {
      config[key] = String(value).replace(/^(virtio|e1000e?|rtl8139|vmxnet3)=[0-9A-Fa-f:]{17}/, (_m, model: string) => `${model}=${generateMac()}`);
    } else if (key === 'smbios1') {
      config[key] = String(value).replace(/uuid=[0-9a-f-]+/i, `uuid=${randomUUID()}`);
    } else if (key === 'vmgenid') {
      config[key] = randomUUID();
    } else {
      config[key] = value;
    }
  }
  config.name = params.name !== undefined ? String(params.name) : `Copy-of-VM-${String(source.config.name ?? source.vmid)}`;
  if (params.description !== undefined) config.description = String(params.description);
  return { config, copies };
}

const human = (bytes: number) => (bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`);

function startClone(context: RouteContext): string {
  const { cluster, tasks, identity, params } = context;
  const source = qemuGuest(context);
  const newid = Number(params.newid);
  const template = source.config.template === 1;
  const full = params.full === undefined ? !template : params.full === 1;
  const targetNode = params.target === undefined ? source.node : String(params.target);

  if (!full && !template) throw serverError('Linked clone feature is not supported for non-template VMs - use a full clone');
  if (!full && params.storage !== undefined) throw paramError({ storage: 'option can only be used for full clones' });
  if (cluster.findGuest(newid)) throw serverError(`unable to create VM ${newid}: config file already exists`);
  cluster.checkLock(source);
  const target = cluster.node(targetNode);
  if (!target.online) throw serverError(`target node '${targetNode}' is not online`);
  if (params.storage !== undefined && !cluster.storage(String(params.storage)).content.includes('images')) {
    throw serverError(`storage '${String(params.storage)}' does not support vm images`);
  }
  if (targetNode !== source.node) {
    const local = cluster.disks(source).filter((disk) => !disk.cdrom).some((disk) => !cluster.storage(full && params.storage !== undefined ? String(params.storage) : disk.storage).shared);
    if (local) throw serverError(`can't clone VM to node '${targetNode}' (VM uses local storage)`);
  }

  const { config, copies } = cloneConfig(cluster, source, newid, params, full);
  // The new VM exists at once, locked, as PVE writes its config before copying disks.
  const clone: GuestRecord = { vmid: newid, type: 'qemu', node: targetNode, config: { ...config, lock: 'clone' }, status: 'stopped', snapshots: [], secrets: { ...source.secrets } };
  cluster.state.guests.push(clone);
  cluster.save();
  const releaseSource = cluster.holdSharedLock(source.vmid);
  const copiedGiB = copies.reduce((sum, copy) => sum + copy.size, 0) / 1024 ** 3;
  const duration = full ? CLONE_MS.base + CLONE_MS.perGiB * copiedGiB : CLONE_MS.linked;

  return tasks.start({
    node: source.node,
    type: 'qmclone',
    id: String(source.vmid),
    user: taskUser(identity),
    durationMs: duration,
    vmids: [source.vmid, newid],
    lockPath: configLockPath('qemu', source.vmid),
    locks: [newid],
    creates: newid,
    async run(task) {
      try {
        for (const copy of copies) {
          task.log(`create ${full ? 'full' : 'linked'} clone of drive ${copy.key} (${copy.from})`);
          task.log(`  Logical volume "${copy.to.split(':')[1]!.split('/').pop()}" created.`);
          if (!full) continue;
          for (let step = 0; step <= 10; step++) {
            task.log(`transferred ${human((copy.size * step) / 10)} of ${human(copy.size)} (${(step * 10).toFixed(2)}%)`);
            await task.step((duration * 0.9) / 11 / Math.max(1, copies.length));
          }
        }
        await task.step(full ? duration * 0.1 : duration);
      } finally {
        releaseSource();
      }
    },
  }).upid;
}

/** `POST config` (async, a `qmconfig` task) and `PUT config` (sync) share this update. */
async function updateConfig(context: RouteContext, guest: GuestRecord): Promise<void> {
  const { cluster, params } = context;
  await cluster.withConfigLock(guest, () => {
    if (params.skiplock !== 1) cluster.checkLock(guest);
    assertDigest(guest.config, params.digest);
    applyConfig(cluster, guest, params);
  });
}

function startResize(context: RouteContext): string {
  const { cluster, tasks, identity, params } = context;
  const guest = qemuGuest(context);
  const diskKey = String(params.disk);
  const request = String(params.size);
  return tasks.start({
    node: guest.node,
    type: 'resize',
    id: String(guest.vmid),
    user: taskUser(identity),
    durationMs: RESIZE_MS,
    vmids: [guest.vmid],
    lockPath: configLockPath('qemu', guest.vmid),
    async run(task) {
      await task.step(RESIZE_MS / 2);
      await cluster.withConfigLock(guest, () => {
        if (params.skiplock !== 1) cluster.checkLock(guest);
        assertDigest(guest.config, params.digest);
        const disk = cluster.disks(guest).find((candidate) => candidate.key === diskKey);
        if (!disk) throw new TaskFailure(`disk '${diskKey}' does not exist`);
        if (disk.cdrom) throw new TaskFailure(`you can't resize a cdrom`);
        const grow = request.startsWith('+');
        const amount = parseSize(grow ? request.slice(1) : request)!;
        const size = grow ? disk.size + amount : amount;
        if (size < disk.size) throw new TaskFailure('shrinking disks is not supported');
        if (size === disk.size) {
          task.log(`disk '${diskKey}' is already ${formatSize(size)}`);
          return;
        }
        const entries = parsePropertyString(String(guest.config[diskKey]), 'file');
        entries.set('size', formatSize(size));
        guest.config[diskKey] = formatPropertyString(entries, 'file');
        cluster.save();
        const name = disk.volid.split(':')[1]!.split('/').pop();
        task.log(`  Size of logical volume pve/${name} changed from ${formatSize(disk.size)} to ${formatSize(size)}.`);
        task.log(`  Logical volume pve/${name} successfully resized.`);
      });
      await task.step(RESIZE_MS / 2);
    },
  }).upid;
}

function startDestroy(context: RouteContext): string {
  const { cluster, tasks, identity, params } = context;
  const guest = qemuGuest(context);
  if (guest.status === 'running') throw serverError(`VM ${guest.vmid} is running - destroy failed`);
  if (params.skiplock !== 1) cluster.checkLock(guest);
  if (guest.config.protection === 1) throw serverError(`can't remove VM ${guest.vmid} - protection mode enabled`);
  return tasks.start({
    node: guest.node,
    type: 'qmdestroy',
    id: String(guest.vmid),
    user: taskUser(identity),
    durationMs: DESTROY_MS,
    vmids: [guest.vmid],
    lockPath: configLockPath('qemu', guest.vmid),
    async run(task) {
      await cluster.withConfigLock(guest, async () => {
        const base = cluster.disks(guest).find((disk) => disk.volid.includes(`base-${guest.vmid}-disk`));
        if (base) {
          const user = cluster.state.guests.find((other) => other.vmid !== guest.vmid && cluster.disks(other).some((disk) => disk.volid.startsWith(`${base.volid}/`)));
          if (user) throw new TaskFailure(`base volume '${base.volid}' is still in use by linked cloned VM ${user.vmid}`);
        }
        await task.step(DESTROY_MS / 2);
        for (const disk of cluster.disks(guest)) {
          if (!disk.cdrom || disk.volid.includes('cloudinit')) task.log(`  Logical volume "${disk.volid.split(':')[1]!.split('/').pop()}" successfully removed.`);
        }
        await cluster.backend.destroy(guest.vmid);
        cluster.removeGuest(guest.vmid);
        if (params.purge === 1) task.log(`purging VM ${guest.vmid} from related configurations..`);
      });
      await task.step(DESTROY_MS / 2);
    },
  }).upid;
}

async function agentInterfaces(context: RouteContext) {
  const guest = qemuGuest(context);
  if (guest.status !== 'running') throw serverError(`VM ${guest.vmid} is not running`);
  const agent = parsePropertyString(String(guest.config.agent ?? '0'), 'enabled');
  if (agent.get('enabled') !== '1') throw serverError('No QEMU guest agent configured');
  const interfaces = await context.cluster.backend.interfaces(guest.vmid);
  if (!interfaces) throw serverError('QEMU guest agent is not running');
  return {
    result: interfaces.map((iface) => ({
      name: iface.name,
      'hardware-address': iface.hardwareAddress,
      'ip-addresses': iface.addresses.map((address) => ({ 'ip-address': address.address, 'ip-address-type': address.type, prefix: address.prefix })),
      statistics: { 'rx-bytes': 0, 'rx-dropped': 0, 'rx-errs': 0, 'rx-packets': 0, 'tx-bytes': 0, 'tx-dropped': 0, 'tx-errs': 0, 'tx-packets': 0 },
    })),
  };
}

/** Kept for the LXC routes, which import it from here. */
export { guestRrdData as rrdData } from './rrd';

function powerRoute(action: PowerAction, extra: Route['params']): Route {
  return {
    method: 'POST',
    path: `/nodes/{node}/qemu/{vmid}/status/${action}`,
    params: { ...guestParams, skiplock: optionalBoolean, ...extra },
    permission: (params) => ({ path: vmPath(params), privilege: 'VM.PowerMgmt' }),
    handler: (context) => startPowerTask(context, qemuGuest(context), action, { skiplock: context.params.skiplock === 1 }),
  };
}

export const qemuRoutes: Route[] = [
  {
    method: 'GET',
    path: '/nodes/{node}/qemu',
    params: { node: nodeSpec, full: optionalBoolean },
    handler({ params, cluster }) {
      return cluster.state.guests.filter((guest) => guest.type === 'qemu' && guest.node === params.node).map((guest) => guestUsage(cluster, guest));
    },
  },
  {
    method: 'POST',
    path: '/nodes/{node}/qemu/{vmid}/clone',
    params: {
      ...guestParams,
      newid: vmidSpec,
      name: { type: 'string', optional: true, format: dnsName },
      description: { type: 'string', optional: true, maxLength: 8192 },
      full: optionalBoolean,
      pool: { type: 'string', optional: true },
      snapname: { type: 'string', optional: true, format: configId },
      storage: { type: 'string', optional: true, format: storageId },
      format: { type: 'string', optional: true, enum: ['raw', 'qcow2', 'vmdk'] },
      target: { ...nodeSpec, optional: true },
      bwlimit: { type: 'integer', optional: true, minimum: 0 },
    },
    permission: (params) => ({ path: vmPath(params), privilege: 'VM.Clone' }),
    handler: startClone,
  },
  {
    method: 'GET',
    path: '/nodes/{node}/qemu/{vmid}/config',
    params: { ...guestParams, current: optionalBoolean, snapshot: { type: 'string', optional: true, format: configId } },
    permission: audit,
    handler(context) {
      const guest = qemuGuest(context);
      if (context.params.snapshot !== undefined) {
        const snapshot = guest.snapshots.find((candidate) => candidate.name === context.params.snapshot);
        if (!snapshot) throw serverError(`snapshot '${String(context.params.snapshot)}' does not exist`);
        return { ...snapshot.config, digest: configDigest(guest.config) };
      }
      return { ...visibleConfig(guest), digest: configDigest(guest.config) };
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/qemu/{vmid}/pending',
    params: guestParams,
    permission: audit,
    handler(context) {
      return Object.entries(visibleConfig(qemuGuest(context))).map(([key, value]) => ({ key, value }));
    },
  },
  {
    method: 'POST',
    path: '/nodes/{node}/qemu/{vmid}/config',
    params: { ...qemuConfigSchema, background_delay: { type: 'integer', optional: true, minimum: 1, maximum: 30 } },
    permission: (params) => ({ path: vmPath(params), privilege: configPrivilege('qemu', changedKeys(params)) }),
    handler(context) {
      const guest = qemuGuest(context);
      return context.tasks.start({
        node: guest.node,
        type: 'qmconfig',
        id: String(guest.vmid),
        user: taskUser(context.identity),
        durationMs: CONFIG_TASK_MS,
        vmids: [guest.vmid],
        lockPath: configLockPath('qemu', guest.vmid),
        async run(task) {
          await task.step(CONFIG_TASK_MS);
          await updateConfig(context, guest);
          for (const key of changedKeys(context.params)) task.log(`update VM ${guest.vmid}: -${key} ${key === 'cipassword' ? '<hidden>' : String(context.params[key] ?? '')}`.trimEnd());
        },
      }).upid;
    },
  },
  {
    method: 'PUT',
    path: '/nodes/{node}/qemu/{vmid}/config',
    params: qemuConfigSchema,
    permission: (params) => ({ path: vmPath(params), privilege: configPrivilege('qemu', changedKeys(params)) }),
    async handler(context) {
      await updateConfig(context, qemuGuest(context));
      return null;
    },
  },
  {
    method: 'PUT',
    path: '/nodes/{node}/qemu/{vmid}/resize',
    params: {
      ...guestParams,
      disk: { type: 'string', enum: [...Array.from({ length: 31 }, (_, i) => `scsi${i}`), ...Array.from({ length: 16 }, (_, i) => `virtio${i}`), ...Array.from({ length: 6 }, (_, i) => `sata${i}`), ...Array.from({ length: 4 }, (_, i) => `ide${i}`), 'efidisk0', 'tpmstate0'] },
      size: { type: 'string', pattern: /^\+?\d+(\.\d+)?[KMGT]?$/ },
      digest: { type: 'string', optional: true, maxLength: 40 },
      skiplock: optionalBoolean,
    },
    permission: (params) => ({ path: vmPath(params), privilege: 'VM.Config.Disk' }),
    handler: startResize,
  },
  {
    method: 'GET',
    path: '/nodes/{node}/qemu/{vmid}/status/current',
    params: guestParams,
    permission: audit,
    handler(context) {
      const guest = qemuGuest(context);
      const usage = guestUsage(context.cluster, guest);
      const agent = parsePropertyString(String(guest.config.agent ?? '0'), 'enabled').get('enabled') === '1';
      return {
        ...usage,
        qmpstatus: guest.status,
        ha: { managed: 0 },
        ...(agent ? { agent: 1 } : {}),
        ...(guest.status === 'running' ? { pid: 10_000 + guest.vmid, 'running-machine': 'pc-i440fx-9.0+pve0', 'running-qemu': '9.0.2' } : {}),
      };
    },
  },
  powerRoute('start', { timeout: { type: 'integer', optional: true, minimum: 0, maximum: 86400 }, machine: { type: 'string', optional: true }, 'force-cpu': { type: 'string', optional: true } }),
  powerRoute('stop', { timeout: { type: 'integer', optional: true, minimum: 0 }, keepActive: optionalBoolean, 'overrule-shutdown': optionalBoolean }),
  powerRoute('shutdown', { timeout: { type: 'integer', optional: true, minimum: 0 }, forceStop: optionalBoolean, keepActive: optionalBoolean }),
  powerRoute('reboot', { timeout: { type: 'integer', optional: true, minimum: 0 } }),
  {
    method: 'DELETE',
    path: '/nodes/{node}/qemu/{vmid}',
    params: { ...guestParams, purge: optionalBoolean, 'destroy-unreferenced-disks': optionalBoolean, skiplock: optionalBoolean },
    permission: (params) => ({ path: vmPath(params), privilege: 'VM.Allocate' }),
    handler: startDestroy,
  },
  {
    method: 'GET',
    path: '/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces',
    params: guestParams,
    permission: (params) => ({ path: vmPath(params), privilege: 'VM.Monitor' }),
    handler: agentInterfaces,
  },
  {
    method: 'POST',
    path: '/nodes/{node}/qemu/{vmid}/agent/ping',
    params: guestParams,
    permission: (params) => ({ path: vmPath(params), privilege: 'VM.Monitor' }),
    async handler(context) {
      await agentInterfaces(context);
      return { result: {} };
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/qemu/{vmid}/rrddata',
    params: { ...guestParams, timeframe: { type: 'string', enum: ['hour', 'day', 'week', 'month', 'year'] }, cf: { type: 'string', optional: true, enum: ['AVERAGE', 'MAX'] } },
    permission: audit,
    handler: (context) => guestRrdData(context.cluster, qemuGuest(context), String(context.params.timeframe), context.params.cf),
  },
  ...snapshotRoutes('qemu'),
];
