/**
 * Contracts of the Proxmox activities: how a cluster is reached, and the inputs and outputs that
 * workflows exchange with them. Pure types, so workflow code may import them.
 */

/** What it takes to talk to one Proxmox VE cluster with an API token. */
export interface ProxmoxConnection {
  /** `https://pve.example.net:8006` — the API lives under `/api2/json`. */
  url: string;
  /** `USER@REALM!TOKENID`. */
  tokenId: string;
  /** The token's UUID secret. */
  tokenSecret: string;
  /** The CA that signed the cluster's certificate; it is the only one trusted for this cluster. */
  caPem: string;
}

/**
 * Resolves a cluster id to its connection. The stored form (encrypted in Postgres) is the
 * directory's business; activities ask for the connection on every call, so a rotated token takes
 * effect without restarting workers.
 */
export interface ProxmoxClusterDirectory {
  connect(clusterId: string): Promise<ProxmoxConnection>;
}

/** QEMU virtual machine or LXC container: the two guest kinds, as Proxmox names their API paths. */
export type GuestKind = 'qemu' | 'lxc';

/** One guest on one node of one cluster. */
export interface GuestRef {
  clusterId: string;
  node: string;
  vmid: number;
  /** Default `qemu`. */
  kind?: GuestKind;
}

/**
 * Failure types the activities throw (`ApplicationFailure.type`). Retryable ones are worth
 * another attempt with backoff; the others fail the activity at once.
 */
export type ProxmoxFailureType =
  // retryable
  | 'ProxmoxUnreachable'
  | 'ProxmoxLocked'
  | 'ProxmoxServerError'
  | 'GuestBusy'
  | 'AnsibleUnreachable'
  // non-retryable
  | 'ProxmoxInvalidParameters'
  | 'ProxmoxAuthFailed'
  | 'ProxmoxPermissionDenied'
  | 'ProxmoxTaskFailed'
  | 'GuestNotFound'
  | 'TemplateNotFound'
  | 'VmidTaken'
  | 'NoCapacity'
  | 'NodeUnavailable'
  | 'AgentNotConfigured'
  | 'AgentTimeout'
  | 'DiskShrinkRefused'
  | 'AnsibleFailed';

export interface PickNodeInput {
  clusterId: string;
  /** Use this node (it must be online and fit the guest); otherwise the one with most free memory. */
  node?: string;
  cores: number;
  memoryMiB: number;
}

export interface CloneTemplateInput {
  clusterId: string;
  /** Where the new VM should live. */
  node: string;
  templateVmid: number;
  /** The id reserveVmid proposed; a clone that finds it taken by another guest fails with `VmidTaken`. */
  vmid: number;
  /** DNS-style name of the new VM. */
  name: string;
  /** Who creates the VM (the provisioning workflow's id): marks it so a retried clone adopts it. */
  owner: string;
  /** Full clone (default) or linked clone of the template. */
  full?: boolean;
  /** Target storage for a full clone. */
  storage?: string;
}

export interface CloneTemplateResult {
  vmid: number;
  node: string;
  /** True when a previous attempt had already created it. */
  adopted: boolean;
}

export interface NetworkSettings {
  /** Default `vmbr0`. */
  bridge?: string;
  /** `dhcp` or an address with prefix length, `10.0.0.5/24`. */
  ip: string;
  gateway?: string;
  /** Space- or comma-separated resolvers. */
  nameserver?: string;
}

export interface ConfigureVmInput extends GuestRef {
  cores: number;
  memoryMiB: number;
  network: NetworkSettings;
  /** The cloud-init user Ansible logs in as. */
  ciUser: string;
  /** Public keys for the cloud-init user (plain; the activity encodes them as PVE wants). */
  sshKeys: string[];
  /** Proxmox tags (`;`-separated in the API). */
  tags?: string[];
}

export interface ResizeDiskInput extends GuestRef {
  /** `scsi0` for QEMU (default), `rootfs` for LXC (default there). */
  disk?: string;
  /** The size the disk should have; a disk already this large or larger is left alone. */
  sizeGiB: number;
}

export interface WaitForAgentIpInput extends GuestRef {
  /** Epoch milliseconds after which waiting fails with `AgentTimeout`. */
  deadline: number;
}

export interface RunAnsibleInput {
  /** The run's tenant, for its output. */
  tenantId: string;
  host: string;
  user: string;
  /** PEM/OpenSSH private key the playbook connects with; written to a 0600 temp file for the run only. */
  privateKey: string;
  /** Playbook file relative to infra/ansible, e.g. `base.yml`. */
  playbook: string;
  extraVars?: Record<string, unknown>;
  /** Default `true`: connect as `user` and become root with sudo. */
  become?: boolean;
}

export interface RunAnsibleResult {
  /** The PLAY RECAP counts for the host. */
  ok: number;
  changed: number;
}

export interface StopVmInput extends GuestRef {
  /** Seconds a graceful shutdown may take before the guest is stopped hard. Default 60. */
  shutdownTimeoutSeconds?: number;
}

export interface DestroyVmInput extends GuestRef {
  /** Destroy only if the guest carries this owner mark (compensation must never remove another's guest). */
  owner?: string;
}

export interface CreateLxcInput {
  clusterId: string;
  node: string;
  vmid: number;
  hostname: string;
  owner: string;
  /** `local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst`. */
  ostemplate: string;
  cores: number;
  memoryMiB: number;
  /** Storage of the root disk, default `local-lvm`. */
  storage?: string;
  rootfsGiB: number;
  network: NetworkSettings;
  /** Keys for root, plain text (unlike QEMU's `sshkeys`). */
  sshKeys: string[];
  unprivileged?: boolean;
  tags?: string[];
}

export interface GuestStatus {
  vmid: number;
  node: string;
  kind: GuestKind;
  name: string;
  status: 'running' | 'stopped' | string;
  lock?: string;
  cores: number;
  memoryMiB: number;
  /** The main disk's size (`scsi0`/`rootfs`), when known. */
  diskGiB?: number;
  description?: string;
  tags: string[];
}

export interface ResizeGuestInput extends GuestRef {
  cores?: number;
  memoryMiB?: number;
  /** Grow the main disk to this size; shrinking is refused (`DiskShrinkRefused`). */
  diskGiB?: number;
}

export interface SnapshotInput extends GuestRef {
  name: string;
  description?: string;
}

export interface BackupInput extends GuestRef {
  /** Backup storage, default `local`. */
  storage?: string;
  mode?: 'snapshot' | 'suspend' | 'stop';
  compress?: 'zstd' | 'gzip' | 'lzo' | '0';
}

export interface BackupRecord {
  volid: string;
  /** Epoch seconds the backup was made. */
  ctime: number;
  size: number;
}

export interface ListBackupsInput extends GuestRef {
  storage?: string;
}

export interface DeleteBackupInput {
  clusterId: string;
  node: string;
  volid: string;
}
