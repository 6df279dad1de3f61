import type { Cluster } from '../cluster';
import { advanceCounters, guestLoad, guestMemory, nodeLoad } from '../load';
import { parsePropertyString } from '../params/formats';
import type { GuestRecord, NodeRecord, StorageRecord } from '../state/model';

/**
 * Usage numbers for guests, nodes and storages. Nothing is measured: a running guest follows the
 * load of `../load.ts` (a quiet pattern of its own, or what the control API set), so lists and
 * graphs move like a living cluster's and a test can push a guest over a threshold.
 */

const MiB = 1024 ** 2;

export function guestMaxMem(guest: GuestRecord): number {
  const memory = guest.type === 'qemu' ? parsePropertyString(String(guest.config.memory ?? '2048'), 'current').get('current') : guest.config.memory;
  return Number(memory ?? 512) * MiB;
}

export function guestCpus(guest: GuestRecord): number {
  return Number(guest.config.cores ?? 1) * (guest.type === 'qemu' ? Number(guest.config.sockets ?? 1) : 1);
}

export function guestUptime(guest: GuestRecord, now = Date.now()): number {
  return guest.status === 'running' && guest.startedAt ? Math.max(0, Math.floor((now - guest.startedAt) / 1000)) : 0;
}

/** The common fields of `/cluster/resources`, `qemu` / `lxc` lists and `status/current`. */
export function guestUsage(cluster: Cluster, guest: GuestRecord) {
  const running = guest.status === 'running';
  const uptime = guestUptime(guest);
  const maxmem = guestMaxMem(guest);
  const maxdisk = cluster.disks(guest).find((disk) => !disk.cdrom)?.size ?? 0;
  const now = Date.now();
  const load = guestLoad(cluster, guest, now);
  const memory = guestMemory(load, maxmem);
  const counters = advanceCounters(cluster, guest.vmid, now);
  return {
    vmid: guest.vmid,
    name: String(guest.config.name ?? guest.config.hostname ?? `${guest.type === 'qemu' ? 'VM' : 'CT'}${guest.vmid}`),
    status: guest.status,
    cpus: guestCpus(guest),
    maxmem,
    // A VM's memory as PVE reports it (total − MemFree: the page cache counts as used); a
    // container's from its cgroup, without the page cache.
    mem: running ? (guest.type === 'qemu' ? memory.total - memory.free : memory.used) : 0,
    maxdisk,
    disk: guest.type === 'lxc' && running ? Math.round(maxdisk * 0.2) : 0,
    cpu: running ? load.cpu : 0,
    uptime,
    netin: running ? Math.round(counters.netin) : 0,
    netout: running ? Math.round(counters.netout) : 0,
    diskread: running ? Math.round(counters.diskread) : 0,
    diskwrite: running ? Math.round(counters.diskwrite) : 0,
    ...(guest.config.template === 1 ? { template: 1 } : {}),
    ...(guest.config.lock !== undefined ? { lock: String(guest.config.lock) } : {}),
    ...(guest.config.tags !== undefined ? { tags: String(guest.config.tags) } : {}),
  };
}

export function nodeUsage(cluster: Cluster, node: NodeRecord) {
  const load = nodeLoad(cluster, node, guestMaxMem, guestCpus);
  return {
    cpu: load.cpu,
    mem: load.mem,
    maxmem: node.memoryBytes,
    disk: Math.round(node.rootfsBytes * 0.12),
    maxdisk: node.rootfsBytes,
    maxcpu: node.cpus,
    uptime: Math.floor((Date.now() - node.bootedAt) / 1000),
  };
}

/** Bytes used on a storage as seen from a node: guest disks there plus file volumes. */
export function storageUsed(cluster: Cluster, storage: StorageRecord, node: string): number {
  const visible = (guestNode: string | null) => storage.shared || guestNode === null || guestNode === node;
  let used = 0;
  for (const guest of cluster.state.guests) {
    if (!visible(guest.node)) continue;
    for (const disk of cluster.disks(guest)) if (disk.storage === storage.storage && !disk.cdrom) used += disk.size;
  }
  for (const volume of cluster.state.volumes) if (volume.storage === storage.storage && visible(volume.node)) used += volume.size;
  return used;
}
