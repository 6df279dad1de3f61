import { z } from '@hono/zod-openapi';
import { ResourceName, setOf } from '../schemas';

/**
 * Inputs of the Proxmox guest operations, shared by their own routes and the generic start route
 * (operations.ts), so both validate the same way.
 */

const GuestId = z.uuid({ error: 'must be a guest id (UUID)' });

/** An OpenSSH public key line: type, base64 body, optional comment. */
export const SshPublicKey = z
  .string()
  .max(16_384)
  .regex(/^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/]+=*( [^\r\n]*)?$/, 'an OpenSSH public key line (ssh-ed25519 AAAA… comment)');

/** The admin login Ansible creates; a normal account (root logs in with keys only, if at all). */
export const AdminUser = z
  .string()
  .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a Linux user name: lowercase letters, digits, _ and -, up to 32')
  .refine((u) => u !== 'root', 'root cannot be the admin user');

const Ipv4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const Ipv4Cidr = z.string().refine((v) => {
  const [ip, prefix] = v.split('/');
  return Ipv4.test(ip ?? '') && prefix !== undefined && /^\d+$/.test(prefix) && Number(prefix) >= 1 && Number(prefix) <= 32;
}, 'an IPv4 address with prefix length, like 10.0.0.5/24');

export const IpConfig = z
  .object({
    ip: z.union([z.literal('dhcp'), Ipv4Cidr]).default('dhcp').openapi({ description: '`dhcp` or a static address with prefix length' }),
    gateway: z.string().regex(Ipv4, 'an IPv4 address').optional(),
    bridge: z.string().regex(/^[a-zA-Z][a-zA-Z0-9_.-]{0,15}$/, 'a bridge name like vmbr0').optional(),
    nameserver: z.string().regex(/^[0-9a-fA-F.:, ]{1,200}$/, 'IP addresses separated by spaces').optional(),
  })
  .openapi('GuestIpConfig');

const Snapshot = z.string().regex(/^[a-zA-Z][a-zA-Z0-9_-]{1,39}$/, 'a snapshot name: a letter, then letters, digits, _ and - (2–40)');
const Storage = z.string().regex(/^[a-zA-Z][a-zA-Z0-9_.-]{0,63}$/, 'a Proxmox storage id like local-lvm');
const Node = z.string().regex(/^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/, 'a Proxmox node name');

/** How a VM is made: Keelson's calls to the Proxmox API, or Terraform's proxmox-vm module. */
export const ProvisionVia = z
  .enum(['api', 'terraform'])
  .default('api')
  .openapi({ description: "VM only: `api` (Keelson calls Proxmox) or `terraform` (a stack per guest on infra/terraform/proxmox-vm, applied as a child run); Ansible configures it either way" });

export const GUEST_LIMITS = { maxCores: 128, maxMemoryMiB: 4 * 1024 * 1024, maxDiskGiB: 64 * 1024 } as const;
const Cores = z.number().int().min(1).max(GUEST_LIMITS.maxCores);
const MemoryMiB = z.number().int().min(64).max(GUEST_LIMITS.maxMemoryMiB).openapi({ description: 'Memory in MiB' });
const DiskGiB = z.number().int().min(1).max(GUEST_LIMITS.maxDiskGiB).openapi({ description: 'Main disk size in GiB' });

export const ProvisionGuestInput = z
  .object({
    clusterId: z.uuid({ error: 'must be a cluster id (UUID)' }),
    name: ResourceName.openapi({ description: 'The VM name / container hostname' }),
    node: Node.optional().openapi({ description: 'Pin to this node; otherwise the one with most free memory' }),
    cores: Cores.default(1),
    memoryMiB: MemoryMiB.default(1024),
    diskGiB: DiskGiB.openapi({ description: 'VM: grow the boot disk to this size (the template size when absent). Container: root disk size (default 8).' }).optional(),
    /** Keys of the admin user Ansible creates. */
    sshKeys: setOf(SshPublicKey, { min: 1, max: 50, minMessage: 'at least one key, or nobody can log in' }),
    user: AdminUser.openapi({ description: 'The admin login created on the guest (passwordless sudo)' }),
    ipConfig: IpConfig.default({ ip: 'dhcp' }),
    /** VM only: the cloud-init template to clone; the cluster default when absent. */
    templateVmid: z.number().int().min(100).max(999_999_999).optional(),
    /** Container only: the ostemplate volume; the cluster default when absent. */
    ostemplate: z.string().regex(/^[a-zA-Z][a-zA-Z0-9_.-]*:vztmpl\/[^\s/]+$/, 'a volume id like local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst').optional(),
    storage: Storage.optional().openapi({ description: 'The cluster default when absent' }),
    tags: setOf(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'a Proxmox tag'), { max: 20 }).optional(),
    via: ProvisionVia,
  })
  .openapi('ProvisionGuest');
export type ProvisionGuestInput = z.infer<typeof ProvisionGuestInput>;

export const PowerGuestInput = z
  .object({
    action: z.enum(['start', 'stop', 'shutdown', 'reboot']).openapi({ description: '`stop` is a hard stop; `shutdown` asks the guest first' }),
    shutdownTimeoutSeconds: z.number().int().min(0).max(3600).optional(),
  })
  .openapi('PowerGuest');

export const ResizeGuestInput = z
  .object({ cores: Cores.optional(), memoryMiB: MemoryMiB.optional(), diskGiB: DiskGiB.optional().openapi({ description: 'Grow only; shrinking is refused' }) })
  .refine((r) => r.cores !== undefined || r.memoryMiB !== undefined || r.diskGiB !== undefined, 'nothing to change: give cores, memoryMiB or diskGiB')
  .openapi('ResizeGuest');

export const SnapshotGuestInput = z.object({ snapshot: Snapshot, description: z.string().max(500).optional() }).openapi('SnapshotGuest');
export const RollbackGuestInput = z.object({ snapshot: Snapshot }).openapi('RollbackGuest');
export const DestroyGuestInput = z.object({ confirmName: z.string().min(1).max(63).openapi({ description: "The guest's name, typed to confirm" }) }).openapi('DestroyGuest');

const BackupMode = z.enum(['snapshot', 'suspend', 'stop']);
export const BackupGuestInput = z
  .object({ storage: Storage.optional(), keep: z.number().int().min(1).max(365).default(7), mode: BackupMode.optional() })
  .openapi('BackupGuest');

/** Five-field cron (minute hour day-of-month month day-of-week), as Temporal Schedules take it. */
export const BackupScheduleInput = z
  .object({
    cron: z
      .string()
      .max(100)
      .regex(/^\s*\S+(\s+\S+){4}\s*$/, 'a five-field cron expression like "30 3 * * *"'),
    keep: z.number().int().min(1).max(365),
    storage: Storage.optional(),
    mode: BackupMode.optional(),
  })
  .openapi('GuestBackupSchedule');

/** The generic start route's inputs: the guest id beside each operation's own fields. */
const withGuest = <T extends z.ZodRawShape>(schema: z.ZodObject<T>) => schema.extend({ guestId: GuestId });
export const GuestOperationInputs = {
  power: withGuest(PowerGuestInput),
  resize: withGuest(z.object({ cores: Cores.optional(), memoryMiB: MemoryMiB.optional(), diskGiB: DiskGiB.optional() })),
  snapshot: withGuest(SnapshotGuestInput),
  rollback: withGuest(RollbackGuestInput),
  destroy: withGuest(DestroyGuestInput),
  backup: withGuest(BackupGuestInput),
};
