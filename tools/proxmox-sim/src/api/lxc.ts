import { taskUser } from '../auth';
import { assertDigest, configDigest } from '../cluster';
import { serverError } from '../http/errors';
import { plainSshKeys, storageId } from '../params/formats';
import { nodeSpec, optionalBoolean, vmidSpec, type Params } from '../params/schema';
import type { GuestRecord } from '../state/model';
import { configLockPath } from '../tasks';
import { applyConfig, changedKeys, configPrivilege, lxcConfigSchema, lxcSshKeys, visibleConfig } from './guest-config';
import { guestUsage } from './metrics';
import { bootGuest, haltGuest, startPowerTask, type PowerAction } from './power';
import { rrdData } from './qemu';
import type { Route, RouteContext } from './router';
import { snapshotRoutes } from './snapshots';

const vmPath = (params: Params) => `/vms/${String(params.vmid)}`;
const audit = (params: Params) => ({ path: vmPath(params), privilege: 'VM.Audit' });
const guestParams = { node: nodeSpec, vmid: vmidSpec } as const;

const CREATE_MS = 5000;
const DESTROY_MS = 1000;

function lxcGuest(context: RouteContext): GuestRecord {
  return context.cluster.guest(String(context.params.node), Number(context.params.vmid), 'lxc');
}

/** The `ostype` PVE detects from a template name. */
function detectOstype(ostemplate: string): string {
  const name = ostemplate.split('/').pop() ?? '';
  for (const ostype of ['debian', 'ubuntu', 'alpine', 'centos', 'fedora', 'archlinux', 'opensuse', 'devuan', 'gentoo', 'nixos']) {
    if (name.startsWith(ostype)) return ostype;
  }
  return 'unmanaged';
}

/** Settings `POST /nodes/{node}/lxc` takes that are not config keys. */
const CREATE_ONLY = ['ostemplate', 'password', 'ssh-public-keys', 'storage', 'start', 'unprivileged', 'pool', 'force', 'restore', 'unique', 'ignore-unpack-errors', 'bwlimit'];

function createContainer(context: RouteContext): string {
  const { cluster, tasks, identity, params } = context;
  const node = String(params.node);
  const vmid = Number(params.vmid);
  const existing = cluster.findGuest(vmid);
  if (existing) throw serverError(`CT ${vmid} already exists on node '${existing.node}'`);
  const ostemplate = String(params.ostemplate);
  const template = cluster.state.volumes.find((volume) => volume.volid === ostemplate && (volume.node === null || volume.node === node));
  if (!template || (template.content !== 'vztmpl' && template.content !== 'backup')) throw serverError(`volume '${ostemplate}' does not exist`);

  const guest: GuestRecord = {
    vmid,
    type: 'lxc',
    node,
    status: 'stopped',
    snapshots: [],
    config: { lock: 'create' },
    secrets: {
      ...(params.password !== undefined ? { password: String(params.password) } : {}),
      sshKeys: lxcSshKeys(params['ssh-public-keys']),
    },
  };
  const settings: Params = {
    arch: 'amd64',
    hostname: `CT${vmid}`,
    cores: 1,
    memory: 512,
    swap: 512,
    ostype: detectOstype(ostemplate),
    rootfs: `${String(params.storage ?? 'local')}:4`,
  };
  for (const [key, value] of Object.entries(params)) if (!CREATE_ONLY.includes(key) && key !== 'node' && key !== 'vmid') settings[key] = value;
  if (params.unprivileged === 1) settings.unprivileged = 1;
  // Allocates the root disk (`local-lvm:8` → `local-lvm:vm-101-disk-0,size=8G`) and MACs, or throws.
  applyConfig(cluster, guest, settings);
  cluster.state.guests.push(guest);
  cluster.save();

  return tasks.start({
    node,
    type: 'vzcreate',
    id: String(vmid),
    user: taskUser(identity),
    durationMs: CREATE_MS,
    vmids: [vmid],
    lockPath: configLockPath('lxc', vmid),
    locks: [vmid],
    creates: vmid,
    async run(task) {
      const root = cluster.disks(guest).find((disk) => disk.key === 'rootfs');
      if (root) task.log(`  Logical volume "${root.volid.split(':')[1]}" created.`);
      await task.step(CREATE_MS * 0.2);
      task.log(`extracting archive '/var/lib/vz/template/cache/${ostemplate.split('/').pop()}'`);
      await task.step(CREATE_MS * 0.5);
      task.log('Total bytes read: 524288000 (500MiB, 180MiB/s)');
      task.log(`Detected container architecture: ${String(guest.config.arch)}`);
      task.log("Creating SSH host key 'ssh_host_ed25519_key' - this may take some time ...");
      await task.step(CREATE_MS * 0.3);
      if (params.start === 1) {
        // PVE starts the new container in the same worker when asked to.
        delete guest.config.lock;
        await bootGuest(context, guest, task);
      }
    },
  }).upid;
}

function startDestroy(context: RouteContext): string {
  const { cluster, tasks, identity, params } = context;
  const guest = lxcGuest(context);
  if (guest.status === 'running' && params.force !== 1) throw serverError(`unable to destroy CT ${guest.vmid} - container is running`);
  cluster.checkLock(guest);
  if (guest.config.protection === 1) throw serverError(`can't remove CT ${guest.vmid} - protection mode enabled`);
  return tasks.start({
    node: guest.node,
    type: 'vzdestroy',
    id: String(guest.vmid),
    user: taskUser(identity),
    durationMs: DESTROY_MS,
    vmids: [guest.vmid],
    lockPath: configLockPath('lxc', guest.vmid),
    async run(task) {
      if (guest.status === 'running') await haltGuest(context, guest);
      await task.step(DESTROY_MS);
      await cluster.withConfigLock(guest, async () => {
        for (const disk of cluster.disks(guest)) task.log(`  Logical volume "${disk.volid.split(':')[1]}" successfully removed.`);
        await cluster.backend.destroy(guest.vmid);
        cluster.removeGuest(guest.vmid);
      });
    },
  }).upid;
}

function powerRoute(action: PowerAction, extra: Route['params']): Route {
  return {
    method: 'POST',
    path: `/nodes/{node}/lxc/{vmid}/status/${action}`,
    params: { ...guestParams, ...extra },
    permission: (params) => ({ path: vmPath(params), privilege: 'VM.PowerMgmt' }),
    handler: (context) => startPowerTask(context, lxcGuest(context), action, { skiplock: context.params.skiplock === 1 }),
  };
}

const { node: _node, vmid: _vmid, delete: _delete, revert: _revert, digest: _digest, ...lxcSettings } = lxcConfigSchema;

export const lxcRoutes: Route[] = [
  {
    method: 'GET',
    path: '/nodes/{node}/lxc',
    params: { node: nodeSpec },
    handler({ params, cluster }) {
      return cluster.state.guests
        .filter((guest) => guest.type === 'lxc' && guest.node === params.node)
        .map((guest) => ({ ...guestUsage(cluster, guest), type: 'lxc', swap: 0, maxswap: Number(guest.config.swap ?? 512) * 1024 ** 2 }));
    },
  },
  {
    method: 'POST',
    path: '/nodes/{node}/lxc',
    params: {
      ...guestParams,
      ...lxcSettings,
      ostemplate: { type: 'string', maxLength: 255 },
      password: { type: 'string', optional: true, minLength: 5 },
      'ssh-public-keys': { type: 'string', optional: true, format: plainSshKeys },
      storage: { type: 'string', optional: true, format: storageId },
      start: optionalBoolean,
      unprivileged: optionalBoolean,
      pool: { type: 'string', optional: true },
      force: optionalBoolean,
      restore: optionalBoolean,
      unique: optionalBoolean,
      'ignore-unpack-errors': optionalBoolean,
      bwlimit: { type: 'number', optional: true, minimum: 0 },
    },
    permission: (params) => ({ path: vmPath(params), privilege: 'VM.Allocate' }),
    handler: createContainer,
  },
  {
    method: 'GET',
    path: '/nodes/{node}/lxc/{vmid}/config',
    params: { ...guestParams, current: optionalBoolean, snapshot: { type: 'string', optional: true } },
    permission: audit,
    handler(context) {
      const guest = lxcGuest(context);
      return { ...visibleConfig(guest), digest: configDigest(guest.config) };
    },
  },
  {
    method: 'PUT',
    path: '/nodes/{node}/lxc/{vmid}/config',
    params: lxcConfigSchema,
    permission: (params) => ({ path: vmPath(params), privilege: configPrivilege('lxc', changedKeys(params)) }),
    async handler(context) {
      const { cluster, params } = context;
      const guest = lxcGuest(context);
      await cluster.withConfigLock(guest, () => {
        cluster.checkLock(guest);
        assertDigest(guest.config, params.digest);
        applyConfig(cluster, guest, params);
      });
      return null;
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/lxc/{vmid}/status/current',
    params: guestParams,
    permission: audit,
    handler(context) {
      const guest = lxcGuest(context);
      return { ...guestUsage(context.cluster, guest), type: 'lxc', ha: { managed: 0 }, ...(guest.status === 'running' ? { pid: 20_000 + guest.vmid } : {}) };
    },
  },
  powerRoute('start', { skiplock: optionalBoolean, debug: optionalBoolean }),
  powerRoute('stop', { skiplock: optionalBoolean, 'overrule-shutdown': optionalBoolean }),
  powerRoute('shutdown', { timeout: { type: 'integer', optional: true, minimum: 0 }, forceStop: optionalBoolean }),
  powerRoute('reboot', { timeout: { type: 'integer', optional: true, minimum: 0 } }),
  {
    method: 'GET',
    path: '/nodes/{node}/lxc/{vmid}/interfaces',
    params: guestParams,
    permission: audit,
    async handler(context) {
      const guest = lxcGuest(context);
      if (guest.status !== 'running') throw serverError(`CT ${guest.vmid} not running`);
      const interfaces = (await context.cluster.backend.interfaces(guest.vmid)) ?? [];
      return interfaces.map((iface) => {
        const v4 = iface.addresses.find((address) => address.type === 'ipv4');
        const v6 = iface.addresses.find((address) => address.type === 'ipv6');
        return {
          name: iface.name,
          hwaddr: iface.hardwareAddress,
          ...(v4 ? { inet: `${v4.address}/${v4.prefix}` } : {}),
          ...(v6 ? { inet6: `${v6.address}/${v6.prefix}` } : {}),
        };
      });
    },
  },
  {
    method: 'DELETE',
    path: '/nodes/{node}/lxc/{vmid}',
    params: { ...guestParams, purge: optionalBoolean, force: optionalBoolean, 'destroy-unreferenced-disks': optionalBoolean },
    permission: (params) => ({ path: vmPath(params), privilege: 'VM.Allocate' }),
    handler: startDestroy,
  },
  {
    method: 'GET',
    path: '/nodes/{node}/lxc/{vmid}/rrddata',
    params: { ...guestParams, timeframe: { type: 'string', enum: ['hour', 'day', 'week', 'month', 'year'] }, cf: { type: 'string', optional: true, enum: ['AVERAGE', 'MAX'] } },
    permission: audit,
    handler: (context) => rrdData(context.cluster, lxcGuest(context), String(context.params.timeframe), context.params.cf),
  },
  ...snapshotRoutes('lxc'),
];

