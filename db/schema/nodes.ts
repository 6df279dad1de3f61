import { index, jsonb, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { tenants } from './tenancy';

export const NODE_KINDS = ['docker'] as const;
export const NODE_STATUSES = ['pending', 'online', 'offline'] as const;
export const nodeKindEnum = pgEnum('node_kind', NODE_KINDS);
export const nodeStatusEnum = pgEnum('node_status', NODE_STATUSES);

export interface NodeCapacity {
  cpus: number;
  memoryBytes: number;
  containersRunning: number;
  serverVersion: string;
}

/** A Docker host. Its worker polls the task queue `node-<id>` and reports health here. */
export const nodes = pgTable(
  'nodes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    kind: nodeKindEnum('kind').notNull().default('docker'),
    /** How the node's worker reaches its engine, e.g. `unix:///var/run/docker.sock`. */
    endpoint: text('endpoint').notNull(),
    status: nodeStatusEnum('status').notNull().default('pending'),
    capacity: jsonb('capacity').$type<NodeCapacity>(),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('nodes_tenant_id_name_idx').on(t.tenantId, t.name), index('nodes_tenant_id_idx').on(t.tenantId)],
);
