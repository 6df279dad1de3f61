import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { tenants } from './tenancy';

/**
 * A Proxmox VE cluster an organization provisions on, reached with an API token. The token
 * secret is stored encrypted; the cluster's CA is pinned (TLS is never unverified).
 */
export const proxmoxClusters = pgTable(
  'proxmox_clusters',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** `https://pve.example.net:8006`. */
    url: text('url').notNull(),
    /** `USER@REALM!TOKENID`. */
    tokenId: text('token_id').notNull(),
    /** The token's secret, encrypted at rest; never returned. */
    tokenSecretSealed: text('token_secret_sealed').notNull(),
    /** The CA that signed the cluster's certificate: the only one trusted for it. */
    caPem: text('ca_pem').notNull(),
    /** SHA-256 of the cluster's certificate (`AA:BB:…`), checked when the connection is checked. */
    fingerprint: text('fingerprint'),
    /** The cloud-init template VMs are cloned from unless a provision names another. */
    defaultTemplateVmid: integer('default_template_vmid'),
    /** Storage for VM clones and container root disks unless a provision names another. */
    defaultStorage: text('default_storage'),
    /** The ostemplate containers are created from unless a provision names another. */
    defaultOstemplate: text('default_ostemplate'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('proxmox_clusters_tenant_id_name_idx').on(t.tenantId, t.name)],
);

export const GUEST_KINDS = ['qemu', 'lxc'] as const;
export type GuestKindName = (typeof GUEST_KINDS)[number];
export const guestKindEnum = pgEnum('guest_kind', GUEST_KINDS);

export const GUEST_STATES = ['provisioning', 'running', 'stopped', 'failed', 'destroyed'] as const;
export type GuestState = (typeof GUEST_STATES)[number];
export const guestStateEnum = pgEnum('guest_state', GUEST_STATES);

/** A guest's backup schedule as last set through the API (the Temporal Schedule is the source of truth for runs). */
export interface GuestBackupPolicy {
  scheduleId: string;
  cron: string;
  keep: number;
  storage?: string;
  mode?: 'snapshot' | 'suspend' | 'stop';
}

/** A QEMU VM or LXC container Keelson provisioned on a Proxmox cluster. */
export const guests = pgTable(
  'guests',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    // Restrict: a cluster with guests on it cannot be forgotten.
    clusterId: uuid('cluster_id').notNull().references(() => proxmoxClusters.id, { onDelete: 'restrict' }),
    kind: guestKindEnum('kind').notNull(),
    /** The VM name / container hostname (DNS label). */
    name: text('name').notNull(),
    /** Known once the clone or create has happened. */
    vmid: integer('vmid'),
    node: text('node'),
    ip: text('ip'),
    cores: integer('cores').notNull(),
    memoryMiB: integer('memory_mib').notNull(),
    diskGiB: integer('disk_gib'),
    /** The admin login Ansible created on the guest. */
    adminUser: text('admin_user').notNull(),
    state: guestStateEnum('state').notNull().default('provisioning'),
    lastError: text('last_error'),
    /** The provisioning run (its history and output are the guest's birth record). */
    workflowId: text('workflow_id').notNull(),
    backupPolicy: jsonb('backup_policy').$type<GuestBackupPolicy>(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    // A name is taken while its guest exists (or is being made); failed and destroyed ones free it.
    uniqueIndex('guests_tenant_id_cluster_id_name_idx')
      .on(t.tenantId, t.clusterId, t.name)
      .where(sql`${t.state} not in ('failed', 'destroyed')`),
    index('guests_cluster_id_idx').on(t.clusterId),
  ],
);
