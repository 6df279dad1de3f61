import { createHash } from 'node:crypto';
import type { Clock } from './clock';
import { PveError, serverError } from './http/errors';
import { decodeQemuSshKeys, parsePropertyString, parseSize } from './params/formats';
import type { GuestBackend, GuestSpec } from './guests/types';
import type { GuestConfig, GuestRecord, GuestType, NodeRecord, SimState, StorageRecord } from './state/model';
import type { StateStore } from './state/store';
import { lockTimeoutMessage } from './tasks';

/** How long PVE waits for a config flock before `got timeout`. */
const FILE_LOCK_WAIT_MS = 10_000;

export const QEMU_DISK_KEY = /^(scsi|virtio|sata|ide)\d+$|^efidisk0$|^tpmstate0$|^unused\d+$/;
export const LXC_DISK_KEY = /^rootfs$|^mp\d+$|^unused\d+$/;

export interface DiskRef {
  key: string;
  volid: string;
  storage: string;
  size: number;
  cdrom: boolean;
}

/**
 * The cluster the API handlers act on: nodes, guests, storages, config locks and flocks, and the
 * backend running started guests. Handlers stay small by asking it ("this guest, or the PVE
 * error"); it never knows about HTTP beyond the errors it throws.
 */
export class Cluster {
  /** Config flocks: exclusive holders and shared holders (a template being cloned). */
  private readonly flocks = new Map<number, { exclusive: boolean; shared: number }>();
  /** The server certificate's SHA-256, listed per node as `ssl_fingerprint`. */
  fingerprint = '';

  constructor(
    private readonly store: StateStore,
    readonly clock: Clock,
    readonly backend: GuestBackend,
  ) {}

  get state(): SimState {
    return this.store.state;
  }

  save(): void {
    this.store.save();
  }

  node(name: string): NodeRecord {
    const node = this.state.nodes.find((candidate) => candidate.name === name);
    if (!node) throw serverError(`no such cluster node '${name}'`);
    return node;
  }

  /** Storages visible on a node (all of them: every layout storage exists on every node). */
  storage(name: string): StorageRecord {
    const storage = this.state.storages.find((candidate) => candidate.storage === name);
    if (!storage) throw serverError(`storage '${name}' does not exist`);
    return storage;
  }

  findGuest(vmid: number): GuestRecord | undefined {
    return this.state.guests.find((guest) => guest.vmid === vmid);
  }

  /** A guest of this type on this node, or PVE's "config file does not exist". */
  guest(node: string, vmid: number, type: GuestType): GuestRecord {
    const guest = this.findGuest(vmid);
    if (!guest || guest.node !== node || guest.type !== type) {
      const dir = type === 'qemu' ? 'qemu-server' : 'lxc';
      throw serverError(`Configuration file 'nodes/${node}/${dir}/${vmid}.conf' does not exist`);
    }
    return guest;
  }

  /** PVE's check_lock: any config lock refuses the operation. */
  checkLock(guest: GuestRecord): void {
    const lock = guest.config.lock;
    if (lock !== undefined) throw serverError(`${guest.type === 'qemu' ? 'VM' : 'CT'} is locked (${lock})`);
  }

  setLock(guest: GuestRecord, lock: string): void {
    guest.config.lock = lock;
    this.save();
  }

  releaseLock(vmid: number): void {
    const guest = this.findGuest(vmid);
    if (guest && guest.config.lock !== undefined) {
      delete guest.config.lock;
      this.save();
    }
  }

  /**
   * Runs `fn` under the guest's exclusive config flock. A shared holder (a running clone of this
   * template) blocks it; after PVE's 10 s wait (scaled) it fails with `got timeout`.
   */
  async withConfigLock<T>(guest: GuestRecord, fn: () => T | Promise<T>): Promise<T> {
    const deadline = Date.now() + this.clock.scaled(FILE_LOCK_WAIT_MS);
    for (;;) {
      const held = this.flocks.get(guest.vmid);
      if (!held || (!held.exclusive && held.shared === 0)) break;
      if (Date.now() >= deadline) throw serverError(lockTimeoutMessage(guest.type, guest.vmid));
      await new Promise((resolve) => setTimeout(resolve, Math.min(20, Math.max(1, deadline - Date.now()))));
    }
    this.flocks.set(guest.vmid, { exclusive: true, shared: 0 });
    try {
      return await fn();
    } finally {
      this.flocks.delete(guest.vmid);
    }
  }

  /** Holds a shared flock (for the duration of a clone); returns its release. */
  holdSharedLock(vmid: number): () => void {
    const held = this.flocks.get(vmid) ?? { exclusive: false, shared: 0 };
    held.shared++;
    this.flocks.set(vmid, held);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      held.shared--;
      if (held.shared <= 0 && !held.exclusive) this.flocks.delete(vmid);
    };
  }

  /** Flocks currently held, for the control API's state view. */
  heldFileLocks(): Array<{ vmid: number; mode: 'exclusive' | 'shared'; holders: number }> {
    return [...this.flocks.entries()].map(([vmid, held]) => ({
      vmid,
      mode: held.exclusive ? 'exclusive' : 'shared',
      holders: held.exclusive ? 1 : held.shared,
    }));
  }

  nextFreeVmid(): number {
    const used = new Set(this.state.guests.map((guest) => guest.vmid));
    let vmid = 100;
    while (used.has(vmid)) vmid++;
    return vmid;
  }

  assertVmidFree(vmid: number, node: string, kind: GuestType): void {
    const existing = this.findGuest(vmid);
    if (existing) throw serverError(`${kind === 'qemu' ? 'VM' : 'CT'} ${vmid} already exists on node '${existing.node}'`);
    void node;
  }

  removeGuest(vmid: number): void {
    this.state.guests = this.state.guests.filter((guest) => guest.vmid !== vmid);
    this.save();
  }

  /** Disks referenced by a guest's config (CD-ROMs flagged), with their sizes. */
  disks(guest: GuestRecord, config: GuestConfig = guest.config): DiskRef[] {
    const pattern = guest.type === 'qemu' ? QEMU_DISK_KEY : LXC_DISK_KEY;
    const disks: DiskRef[] = [];
    for (const [key, value] of Object.entries(config)) {
      if (!pattern.test(key)) continue;
      const entries = parsePropertyString(String(value), guest.type === 'qemu' ? 'file' : 'volume');
      const volid = entries.get('file') ?? entries.get('volume') ?? '';
      if (volid === 'none' || !volid.includes(':')) continue;
      disks.push({
        key,
        volid,
        storage: volid.split(':')[0]!,
        size: parseSize(entries.get('size') ?? '0') ?? 0,
        cdrom: entries.get('media') === 'cdrom',
      });
    }
    return disks;
  }

  /** A fresh disk name on a storage for a guest: `vm-100-disk-1` (block) or `100/vm-100-disk-1.qcow2` (file). */
  newDiskVolid(storage: StorageRecord, vmid: number, taken: Set<string>, format: 'raw' | 'qcow2' = 'raw'): string {
    for (let n = 0; ; n++) {
      const volid = ['dir', 'nfs'].includes(storage.type)
        ? `${storage.storage}:${vmid}/vm-${vmid}-disk-${n}.${format}`
        : `${storage.storage}:vm-${vmid}-disk-${n}`;
      if (!taken.has(volid)) return volid;
    }
  }

  /**
   * Every volid used by any guest disk, to keep new names unique. With `vmid`, only those a fresh
   * disk name of that guest (`…vm-<vmid>-disk-<n>…`) could clash with: a guest's config is parsed
   * only if it mentions that name, so a clone among 1,000 guests does not parse every disk of all.
   */
  usedVolids(vmid?: number): Set<string> {
    const mark = vmid === undefined ? undefined : `vm-${vmid}-disk-`;
    const used = new Set<string>();
    for (const guest of this.state.guests) {
      if (mark !== undefined && !Object.values(guest.config).some((value) => String(value).includes(mark))) continue;
      for (const disk of this.disks(guest)) used.add(disk.volid);
    }
    return used;
  }

  /** What a started guest needs from its config: cloud-init for QEMU, create-time settings for LXC. */
  guestSpec(guest: GuestRecord): GuestSpec {
    const config = guest.config;
    const text = (key: string) => (config[key] === undefined ? undefined : String(config[key]));
    if (guest.type === 'qemu') {
      const memory = parsePropertyString(text('memory') ?? '2048', 'current').get('current');
      return {
        vmid: guest.vmid,
        kind: 'qemu',
        name: text('name') ?? `VM${guest.vmid}`,
        cores: Number(config.cores ?? 1) * Number(config.sockets ?? 1),
        memoryMiB: Number(memory ?? 512),
        sshKeys: config.sshkeys === undefined ? [] : (decodeQemuSshKeys(String(config.sshkeys)) ?? []),
        ...optional('user', text('ciuser')),
        ...optional('password', guest.secrets.password),
        ...optional('ipConfig', text('ipconfig0')),
        ...optional('nameserver', text('nameserver')),
      };
    }
    const net = parsePropertyString(text('net0') ?? '');
    const ipParts = ['ip', 'gw'].filter((key) => net.has(key)).map((key) => `${key}=${net.get(key)}`);
    return {
      vmid: guest.vmid,
      kind: 'lxc',
      name: text('hostname') ?? `CT${guest.vmid}`,
      cores: Number(config.cores ?? 1),
      memoryMiB: Number(config.memory ?? 512),
      sshKeys: guest.secrets.sshKeys ?? [],
      ...optional('password', guest.secrets.password),
      ...optional('ipConfig', ipParts.length > 0 ? ipParts.join(',') : undefined),
      ...optional('nameserver', text('nameserver')),
    };
  }
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}

/** PVE's config digest: a SHA-1 over the config as written, so any change changes it. */
export function configDigest(config: GuestConfig): string {
  const text = Object.entries(config)
    .map(([key, value]) => `${key}: ${value}\n`)
    .join('');
  return createHash('sha1').update(text).digest('hex');
}

export function assertDigest(config: GuestConfig, digest: string | number | undefined): void {
  if (digest === undefined) return;
  if (String(digest) !== configDigest(config)) {
    throw new PveError(500, 'detected modified configuration - file changed by other user? Try again.');
  }
}
