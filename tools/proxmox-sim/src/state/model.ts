/**
 * The simulator's whole state: what a PVE cluster keeps in /etc/pve (guest configs, users,
 * tokens) plus storage contents and the task archive. Plain JSON, persisted by ./store.ts.
 */

export type GuestType = 'qemu' | 'lxc';
export type ConfigValue = string | number;
export type GuestConfig = Record<string, ConfigValue>;

export interface NodeRecord {
  name: string;
  online: boolean;
  cpus: number;
  memoryBytes: number;
  rootfsBytes: number;
  /** Unix ms of the (simulated) boot, for uptime and task `pstart`. */
  bootedAt: number;
}

export interface StorageRecord {
  storage: string;
  type: 'dir' | 'lvmthin' | 'nfs' | 'rbd' | 'zfspool';
  /** Content types it accepts: images, rootdir, iso, vztmpl, backup, snippets. */
  content: string[];
  shared: boolean;
  totalBytes: number;
}

/** A file volume on a storage: an ostemplate, an ISO, a backup. Guest disks are derived from configs. */
export interface VolumeRecord {
  volid: string;
  storage: string;
  /** The node holding it; null on shared storage. */
  node: string | null;
  content: 'backup' | 'vztmpl' | 'iso' | 'snippets';
  format: string;
  size: number;
  ctime: number;
  vmid?: number;
  subtype?: GuestType;
  notes?: string;
}

export interface SnapshotRecord {
  name: string;
  description: string;
  snaptime: number;
  parent?: string;
  vmstate: boolean;
  config: GuestConfig;
}

export interface GuestRecord {
  vmid: number;
  type: GuestType;
  node: string;
  /** The guest's config as PVE stores it, including `lock` while an operation holds one. */
  config: GuestConfig;
  status: 'running' | 'stopped';
  /** Unix ms of the last start, while running. */
  startedAt?: number;
  snapshots: SnapshotRecord[];
  /** The most recent snapshot, which `current` descends from. */
  parent?: string;
  /**
   * What PVE keeps out of the visible config but hands to the guest: the plain cloud-init
   * password and, for containers, the root password and keys applied at creation.
   */
  secrets: { password?: string; sshKeys?: string[] };
}

export interface TaskRecord {
  upid: string;
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  type: string;
  id: string;
  user: string;
  status: 'running' | 'stopped';
  exitstatus?: string;
  endtime?: number;
  log: string[];
  /** Config locks this task set and must clear ({vmid: lock}). */
  locks: number[];
  /** A guest this task is creating: removed again if the task dies. */
  creates?: number;
}

export interface UserRecord {
  userid: string;
  password: string;
  /** Audit privileges only: every change is refused with 403. */
  readonly?: boolean;
}

export interface TokenRecord {
  /** `user@realm!name` */
  tokenid: string;
  /** A lowercase UUID. */
  secret: string;
  readonly?: boolean;
}

export interface SimState {
  schema: 1;
  /** Signs tickets and CSRF tokens; persisted so tickets survive a restart. */
  secret: string;
  clusterName: string;
  nodes: NodeRecord[];
  storages: StorageRecord[];
  volumes: VolumeRecord[];
  guests: GuestRecord[];
  tasks: TaskRecord[];
  users: UserRecord[];
  tokens: TokenRecord[];
  lastPid: number;
}
