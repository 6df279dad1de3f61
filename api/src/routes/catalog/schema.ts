import { z } from '@hono/zod-openapi';
import { BILLING_CYCLES } from '@keelson/db/schema';
import { GUEST_LIMITS, ProvisionVia } from '../../services/proxmox-inputs';
import { Currency, Minor } from '../../services/billing/validation';

const Id = (what: string) => z.uuid({ error: `must be a ${what} id (UUID)` });
const Cores = z.number().int().min(1).max(GUEST_LIMITS.maxCores);
const MemoryMiB = z.number().int().min(64).max(GUEST_LIMITS.maxMemoryMiB);
const DiskGiB = z.number().int().min(1).max(GUEST_LIMITS.maxDiskGiB);

/** What a plan provisions; references (cluster, node, blueprint) must be the organization's own. */
export const ProvisioningSchema = z
  .discriminatedUnion('kind', [
    z.object({
      kind: z.literal('proxmox_vm'),
      clusterId: Id('cluster'),
      templateVmid: z.number().int().min(100).max(999_999_999).nullable().default(null).openapi({ description: "The cloud-init template to clone; the cluster's default when null" }),
      cores: Cores,
      memoryMiB: MemoryMiB,
      diskGiB: DiskGiB.nullable().default(null),
      via: ProvisionVia,
    }),
    z.object({
      kind: z.literal('proxmox_lxc'),
      clusterId: Id('cluster'),
      ostemplate: z
        .string()
        .regex(/^[a-zA-Z][a-zA-Z0-9_.-]*:vztmpl\/[^\s/]+$/, 'a volume id like local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst')
        .nullable()
        .default(null),
      cores: Cores,
      memoryMiB: MemoryMiB,
      diskGiB: DiskGiB.nullable().default(null),
    }),
    z.object({
      kind: z.literal('app'),
      repoUrl: z
        .string()
        .min(1)
        .max(1000)
        .regex(/^(https?:\/\/|ssh:\/\/|git:\/\/|file:\/\/|[\w.-]+@[\w.-]+:|\/)\S+$/, 'a git URL (https://, ssh://, git@host:repo) or an absolute path'),
      branch: z.string().min(1).max(255).regex(/^(?!\/|.*\.\.|.*\/$)[\w./-]+$/, 'a branch name like main').default('main'),
      containerPort: z.number().int().min(1).max(65535),
      nodeId: Id('node'),
    }),
    z.object({ kind: z.literal('container'), blueprintId: Id('blueprint'), nodeId: Id('node') }),
    z.object({ kind: z.literal('service') }),
  ])
  .openapi('Provisioning', { description: 'What an order of the plan provisions: a Proxmox VM or LXC, an app, a container from a blueprint, or nothing (a service line)' });

const PriceSchema = z.object({ cycle: z.enum(BILLING_CYCLES), amountMinor: Minor.openapi({ description: 'Price per cycle in minor units (cents)' }) }).openapi('PlanPrice');

export const PlanBody = z
  .object({
    name: z.string().trim().min(1).max(100),
    description: z.string().max(2000).default(''),
    currency: Currency,
    prices: z
      .array(PriceSchema)
      .min(1, 'at least one price')
      .max(BILLING_CYCLES.length)
      .refine((ps) => new Set(ps.map((p) => p.cycle)).size === ps.length, 'a cycle is priced twice'),
    setupFeeMinor: Minor.default(0),
    trialDays: z.number().int().min(0).max(365).default(0),
    provisioning: ProvisioningSchema,
    active: z.boolean().default(true),
  })
  .openapi('PlanInput');
export type PlanBody = z.infer<typeof PlanBody>;

export const PlanSchema = z
  .object({
    id: z.string(),
    productId: z.string(),
    name: z.string(),
    description: z.string(),
    currency: z.string(),
    prices: z.array(z.object({ cycle: z.enum(BILLING_CYCLES), amountMinor: z.number() })),
    setupFeeMinor: z.number(),
    trialDays: z.number(),
    provisioning: z.record(z.string(), z.unknown()).openapi({ description: 'As given (see Provisioning)' }),
    requiresKyc: z.boolean().openapi({ description: "The product's flag, repeated for convenience" }),
    active: z.boolean(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Plan');

export const ProductBody = z
  .object({
    name: z.string().trim().min(1).max(100),
    description: z.string().max(5000).default(''),
    requiresKyc: z.boolean().default(false).openapi({ description: 'Orders wait for an approved KYC case (recorded for now)' }),
    active: z.boolean().default(true),
  })
  .openapi('ProductInput');
export type ProductBody = z.infer<typeof ProductBody>;

export const ProductSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    requiresKyc: z.boolean(),
    active: z.boolean(),
    plans: z.array(PlanSchema),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Product');

export const ProductListSchema = z.object({ items: z.array(ProductSchema) }).openapi('ProductList');
export const ProductListQuery = z.object({
  includeInactive: z
    .enum(['true', 'false'])
    .optional()
    .transform((v) => v === 'true')
    .openapi({ description: 'Staff only: also inactive products and plans' }),
});

/** A Proxmox cluster as the plan form needs it: what to name and which defaults it has, never how to reach it. */
export const ClusterChoiceSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    defaultTemplateVmid: z.number().nullable().openapi({ description: 'The VM template a plan uses when it names none' }),
    defaultOstemplate: z.string().nullable().openapi({ description: 'The LXC ostemplate a plan uses when it names none' }),
    defaultStorage: z.string().nullable(),
  })
  .openapi('CatalogCluster');
export const ClusterChoiceListSchema = z.object({ items: z.array(ClusterChoiceSchema) }).openapi('CatalogClusterList');
