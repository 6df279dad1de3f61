import { z } from '@hono/zod-openapi';
import { GUEST_KINDS, GUEST_STATES } from '@keelson/db/schema';
import { ResourceName, StartedRunSchema } from '../../schemas';
import { ProvisionGuestInput } from '../../services/proxmox-inputs';

export {
  BackupGuestInput,
  BackupScheduleInput,
  DestroyGuestInput,
  PowerGuestInput,
  ResizeGuestInput,
  RollbackGuestInput,
  SnapshotGuestInput,
} from '../../services/proxmox-inputs';

const ClusterUrl = z
  .string()
  .max(500)
  .refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'https:' && (u.pathname === '/' || u.pathname === '') && !u.search && !u.username;
    } catch {
      return false;
    }
  }, 'an https:// URL of the cluster, like https://pve.example.net:8006 (no path)')
  .transform((v) => new URL(v).origin);

const TokenId = z.string().max(200).regex(/^[^@\s!]+@[^@\s!]+![A-Za-z][A-Za-z0-9._-]*$/, 'an API token id like root@pam!keelson');
const TokenSecret = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'the token secret: a lowercase UUID')
  .openapi({ description: 'Stored encrypted, never returned' });
const CaPem = z
  .string()
  .max(20_000)
  .regex(/-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/, 'a PEM certificate (-----BEGIN CERTIFICATE-----…)')
  .openapi({ description: "The CA that signed the cluster's certificate (PVE: /etc/pve/pve-root-ca.pem); the only one trusted for it" });
const Fingerprint = z
  .string()
  .regex(/^([0-9a-fA-F]{2}:?){31}[0-9a-fA-F]{2}$/, 'a SHA-256 fingerprint, AA:BB:… (32 bytes)')
  .openapi({ description: "SHA-256 of the cluster's certificate; when set, the connection check requires it" });
const Storage = z.string().regex(/^[a-zA-Z][a-zA-Z0-9_.-]{0,63}$/, 'a Proxmox storage id like local-lvm');
const Ostemplate = z.string().regex(/^[a-zA-Z][a-zA-Z0-9_.-]*:vztmpl\/[^\s/]+$/, 'a volume id like local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst');
const Vmid = z.number().int().min(100).max(999_999_999);

export const ClusterBody = z
  .object({
    name: ResourceName,
    url: ClusterUrl,
    tokenId: TokenId,
    tokenSecret: TokenSecret,
    caPem: CaPem,
    fingerprint: Fingerprint.optional(),
    defaultTemplateVmid: Vmid.optional(),
    defaultStorage: Storage.optional(),
    defaultOstemplate: Ostemplate.optional(),
  })
  .openapi('ProxmoxClusterInput');

/** Partial update; `null` clears an optional setting; a new connection setting is checked before it is stored. */
export const ClusterPatch = z
  .object({
    name: ResourceName,
    url: ClusterUrl,
    tokenId: TokenId,
    tokenSecret: TokenSecret,
    caPem: CaPem,
    fingerprint: Fingerprint.nullable(),
    defaultTemplateVmid: Vmid.nullable(),
    defaultStorage: Storage.nullable(),
    defaultOstemplate: Ostemplate.nullable(),
  })
  .partial()
  .refine((p) => Object.keys(p).length > 0, 'nothing to change')
  .openapi('ProxmoxClusterPatch');

export const ClusterSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    url: z.string(),
    tokenId: z.string(),
    caPem: z.string(),
    fingerprint: z.string().nullable(),
    defaultTemplateVmid: z.number().nullable(),
    defaultStorage: z.string().nullable(),
    defaultOstemplate: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('ProxmoxCluster');

export const CreatedClusterSchema = ClusterSchema.extend({
  version: z.string().openapi({ description: 'The Proxmox VE version the connection check saw' }),
  presentedFingerprint: z.string().openapi({ description: 'SHA-256 of the certificate the cluster presented' }),
}).openapi('CreatedProxmoxCluster');

const BackupScheduleSchema = z
  .object({ cron: z.string(), keep: z.number(), storage: z.string().nullable(), mode: z.enum(['snapshot', 'suspend', 'stop']).nullable() })
  .openapi('GuestBackupScheduleState');

export const GuestSchema = z
  .object({
    id: z.string(),
    clusterId: z.string(),
    kind: z.enum(GUEST_KINDS),
    name: z.string(),
    vmid: z.number().nullable(),
    node: z.string().nullable(),
    ip: z.string().nullable(),
    cores: z.number(),
    memoryMiB: z.number(),
    diskGiB: z.number().nullable(),
    adminUser: z.string(),
    state: z.enum(GUEST_STATES),
    lastError: z.string().nullable(),
    workflowId: z.string().openapi({ description: 'The provisioning run' }),
    backupSchedule: BackupScheduleSchema.nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('ProxmoxGuest');

export const ProvisionBody = ProvisionGuestInput.extend({
  kind: z.enum(GUEST_KINDS).default('qemu').openapi({ description: '`qemu` (a VM cloned from a template) or `lxc` (a container from an ostemplate)' }),
}).openapi('ProvisionGuestRequest');

export const ProvisionedGuestSchema = z.object({ guest: GuestSchema, run: StartedRunSchema }).openapi('ProvisionedGuest');

export const GuestListQuery = z.object({
  clusterId: z.uuid({ error: 'must be a cluster id (UUID)' }).optional(),
  includeDestroyed: z
    .enum(['true', 'false'])
    .optional()
    .transform((v) => v === 'true'),
});

export const BackupScheduleResult = z
  .object({ scheduleId: z.string(), created: z.boolean(), backupSchedule: BackupScheduleSchema })
  .openapi('GuestBackupScheduleResult');

export const ClusterListSchema = z.object({ items: z.array(ClusterSchema) }).openapi('ProxmoxClusterList');
export const GuestListSchema = z.object({ items: z.array(GuestSchema) }).openapi('ProxmoxGuestList');
