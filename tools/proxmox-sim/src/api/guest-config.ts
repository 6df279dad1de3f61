import { createHash, randomBytes } from 'node:crypto';
import type { Cluster } from '../cluster';
import { QEMU_DISK_KEY } from '../cluster';
import { paramError } from '../http/errors';
import {
  addressList,
  configIdList,
  dnsName,
  formatPropertyString,
  formatSize,
  ipConfig,
  lxcNet,
  lxcRootfs,
  parsePropertyString,
  parseSshKeys,
  qemuAgent,
  qemuDisk,
  qemuMemory,
  qemuNet,
  qemuSshKeys,
  splitList,
} from '../params/formats';
import { indexed, nodeSpec, optionalBoolean, vmidSpec, type ParamSchema, type Params } from '../params/schema';
import { generateMac } from '../state/layout';
import type { GuestRecord } from '../state/model';

/**
 * The settable config of QEMU and LXC guests (a working subset of pve-docs' apidata), and how a
 * change is applied: `delete`, new disks allocated from `storage:size`, replaced disks kept as
 * `unusedN`, the cloud-init password kept out of the visible config.
 */

const str = { type: 'string', optional: true } as const;
const int = (minimum?: number, maximum?: number) => ({ type: 'integer', optional: true, minimum, maximum }) as const;

const LOCKS = ['backup', 'clone', 'create', 'migrate', 'rollback', 'snapshot', 'snapshot-delete', 'suspending', 'suspended'];

export const qemuConfigSchema: ParamSchema = {
  node: nodeSpec,
  vmid: vmidSpec,
  name: { ...str, format: dnsName },
  description: { ...str, maxLength: 8192 },
  tags: str,
  cores: int(1, 1024),
  sockets: int(1, 4),
  vcpus: int(1, 1024),
  cpu: str,
  cpulimit: { type: 'number', optional: true, minimum: 0, maximum: 128 },
  cpuunits: int(1, 262144),
  memory: { ...str, format: qemuMemory },
  balloon: int(0),
  numa: optionalBoolean,
  ostype: { ...str, enum: ['other', 'wxp', 'w2k', 'w2k3', 'w2k8', 'wvista', 'win7', 'win8', 'win10', 'win11', 'l24', 'l26', 'solaris'] },
  machine: str,
  bios: { ...str, enum: ['seabios', 'ovmf'] },
  boot: str,
  bootdisk: str,
  scsihw: { ...str, enum: ['lsi', 'lsi53c810', 'virtio-scsi-pci', 'virtio-scsi-single', 'megasas', 'pvscsi'] },
  agent: { ...str, format: qemuAgent },
  onboot: optionalBoolean,
  protection: optionalBoolean,
  kvm: optionalBoolean,
  tablet: optionalBoolean,
  vga: str,
  hotplug: str,
  startup: str,
  smbios1: str,
  vmgenid: str,
  hookscript: str,
  lock: { ...str, enum: LOCKS },
  ciuser: str,
  cipassword: str,
  citype: { ...str, enum: ['configdrive2', 'nocloud', 'opennebula'] },
  ciupgrade: optionalBoolean,
  cicustom: str,
  sshkeys: { ...str, format: qemuSshKeys },
  nameserver: { ...str, format: addressList },
  searchdomain: str,
  ...indexed('net', 32, { ...str, format: qemuNet }),
  ...indexed('ipconfig', 32, { ...str, format: ipConfig }),
  ...indexed('scsi', 31, { ...str, format: qemuDisk }),
  ...indexed('virtio', 16, { ...str, format: qemuDisk }),
  ...indexed('sata', 6, { ...str, format: qemuDisk }),
  ...indexed('ide', 4, { ...str, format: qemuDisk }),
  ...indexed('serial', 4, str),
  ...indexed('unused', 256, str),
  efidisk0: str,
  tpmstate0: str,
  delete: { ...str, format: configIdList, list: true },
  revert: { ...str, format: configIdList, list: true },
  digest: { ...str, maxLength: 40 },
  skiplock: optionalBoolean,
  force: optionalBoolean,
};

export const lxcConfigSchema: ParamSchema = {
  node: nodeSpec,
  vmid: vmidSpec,
  hostname: { ...str, format: dnsName },
  description: { ...str, maxLength: 8192 },
  tags: str,
  cores: int(1, 8192),
  cpulimit: { type: 'number', optional: true, minimum: 0, maximum: 8192 },
  cpuunits: int(0, 500000),
  memory: int(16),
  swap: int(0),
  onboot: optionalBoolean,
  protection: optionalBoolean,
  startup: str,
  features: str,
  nameserver: { ...str, format: addressList },
  searchdomain: str,
  ostype: { ...str, enum: ['debian', 'devuan', 'ubuntu', 'centos', 'fedora', 'opensuse', 'archlinux', 'alpine', 'gentoo', 'nixos', 'unmanaged'] },
  arch: { ...str, enum: ['amd64', 'i386', 'arm64', 'armhf', 'riscv32', 'riscv64'] },
  cmode: { ...str, enum: ['shell', 'console', 'tty'] },
  console: optionalBoolean,
  tty: int(0, 6),
  timezone: str,
  hookscript: str,
  lock: { ...str, enum: LOCKS },
  rootfs: { ...str, format: lxcRootfs },
  ...indexed('net', 32, { ...str, format: lxcNet }),
  ...indexed('mp', 256, { ...str, format: lxcRootfs }),
  ...indexed('unused', 256, str),
  delete: { ...str, format: configIdList, list: true },
  revert: { ...str, format: configIdList, list: true },
  digest: { ...str, maxLength: 40 },
};

/** Parameters that steer the request rather than set config. */
const CONTROL_PARAMS = new Set(['node', 'vmid', 'delete', 'revert', 'digest', 'skiplock', 'force', 'background_delay']);

/** The privilege PVE checks for a changed key (named in the 403). */
export function configPrivilege(kind: GuestRecord['type'], keys: string[]): string {
  const privileges = keys.map((key) => {
    if (/^(cores|sockets|vcpus|cpu|cpulimit|cpuunits|numa)$/.test(key)) return 'VM.Config.CPU';
    if (/^(memory|balloon|swap)$/.test(key)) return 'VM.Config.Memory';
    if (/^net\d+$/.test(key)) return 'VM.Config.Network';
    if (/^(ipconfig\d+|ciuser|cipassword|citype|ciupgrade|cicustom|sshkeys|nameserver|searchdomain)$/.test(key)) {
      return kind === 'qemu' ? 'VM.Config.Cloudinit' : 'VM.Config.Network';
    }
    if (QEMU_DISK_KEY.test(key) || /^(rootfs|mp\d+)$/.test(key)) return 'VM.Config.Disk';
    return 'VM.Config.Options';
  });
  return privileges.find((privilege) => privilege !== 'VM.Config.Options') ?? 'VM.Config.Options';
}

/** The keys a request changes (set or deleted). */
export function changedKeys(params: Params): string[] {
  const set = Object.keys(params).filter((key) => !CONTROL_PARAMS.has(key));
  const deleted = params.delete === undefined ? [] : splitList(String(params.delete));
  return [...set, ...deleted];
}

/** `sha256-crypt`-looking hash: what PVE stores for `cipassword` (the value itself is never shown). */
function hashPassword(password: string): string {
  const salt = randomBytes(6).toString('base64').replace(/[+/=]/g, '');
  return `$5$${salt}$${createHash('sha256').update(salt + password).digest('base64').replace(/=+$/, '')}`;
}

function nextUnusedKey(config: Record<string, unknown>): string {
  for (let n = 0; ; n++) if (config[`unused${n}`] === undefined) return `unused${n}`;
}

/**
 * `storage:32` (allocate 32 GiB), `storage:cloudinit` (a cloud-init drive) → a real volume. PVE
 * allocates these when the config is written; already-named volumes pass through.
 */
function allocateDisk(cluster: Cluster, guest: GuestRecord, key: string, value: string): string {
  const defaultKey = guest.type === 'qemu' ? 'file' : 'volume';
  const entries = parsePropertyString(value, defaultKey);
  const volume = entries.get(defaultKey) ?? '';
  const match = /^([^:]+):(\d+(?:\.\d+)?|cloudinit)$/.exec(volume);
  if (!match) return value;
  const storage = cluster.storage(match[1]!);
  const content = guest.type === 'qemu' ? 'images' : 'rootdir';
  if (!storage.content.includes(content)) throw paramError({ [key]: `storage '${storage.storage}' does not support ${content === 'images' ? 'vm images' : 'container directories'}` });
  const result = new Map<string, string>();
  if (match[2] === 'cloudinit') {
    result.set(defaultKey, `${storage.storage}:vm-${guest.vmid}-cloudinit`);
    for (const [k, v] of entries) if (k !== defaultKey) result.set(k, v);
    result.set('media', 'cdrom');
  } else {
    result.set(defaultKey, cluster.newDiskVolid(storage, guest.vmid, cluster.usedVolids(guest.vmid)));
    for (const [k, v] of entries) if (k !== defaultKey && k !== 'size') result.set(k, v);
    result.set('size', formatSize(Math.round(Number(match[2]) * 1024 ** 3)));
  }
  return formatPropertyString(result, defaultKey);
}

/** Adds a MAC to a network device that has none, as PVE does on write. */
function withMac(kind: GuestRecord['type'], value: string): string {
  if (kind === 'lxc') {
    const entries = parsePropertyString(value);
    if (!entries.has('hwaddr')) entries.set('hwaddr', generateMac());
    return formatPropertyString(entries);
  }
  return value.replace(/^(virtio|e1000e?|rtl8139|vmxnet3)(?=,|$)/, (model) => `${model}=${generateMac()}`);
}

/** Applies a validated config change to a guest (the caller holds the lock and checked digest). */
export function applyConfig(cluster: Cluster, guest: GuestRecord, params: Params): void {
  const config = guest.config;
  const deletes = params.delete === undefined ? [] : splitList(String(params.delete));
  for (const key of deletes) {
    if (params[key] !== undefined) throw paramError({ delete: `you can't use '-${key}' and '-delete ${key}' at the same time` });
  }
  const isDisk = (key: string) => (guest.type === 'qemu' ? QEMU_DISK_KEY.test(key) : /^(rootfs|mp\d+)$/.test(key)) && !key.startsWith('unused');
  for (const key of deletes) {
    const old = config[key];
    if (old === undefined) continue;
    delete config[key];
    if (key === 'cipassword') delete guest.secrets.password;
    // A detached disk is kept as unusedN, a CD-ROM or cloud-init drive just goes.
    if (isDisk(key) && !String(old).includes('media=cdrom')) config[nextUnusedKey(config)] = String(old).split(',')[0]!;
  }
  for (const [key, value] of Object.entries(params)) {
    if (CONTROL_PARAMS.has(key)) continue;
    if (key === 'cipassword') {
      guest.secrets.password = String(value);
      config.cipassword = hashPassword(String(value));
      continue;
    }
    let next: string | number = value;
    if (isDisk(key)) {
      next = allocateDisk(cluster, guest, key, String(value));
      const old = config[key];
      const oldVolume = old === undefined ? undefined : String(old).split(',')[0];
      if (oldVolume && oldVolume !== String(next).split(',')[0] && !String(old).includes('media=cdrom')) config[nextUnusedKey(config)] = oldVolume;
    }
    if (/^net\d+$/.test(key)) next = withMac(guest.type, String(value));
    config[key] = next;
  }
  cluster.save();
}

/** The config as `GET …/config` shows it: the cloud-init password masked. */
export function visibleConfig(guest: GuestRecord): Record<string, string | number> {
  const config = { ...guest.config };
  if (config.cipassword !== undefined) config.cipassword = '**********';
  return config;
}

/** Public keys from LXC's plain `ssh-public-keys`. */
export function lxcSshKeys(value: string | number | undefined): string[] {
  return value === undefined ? [] : parseSshKeys(String(value)).keys;
}
