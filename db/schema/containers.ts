import { index, integer, jsonb, pgEnum, pgTable, real, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { nodes } from './nodes';
import { tenants } from './tenancy';

export interface PortMapping {
  container: number;
  host: number;
  protocol: 'tcp' | 'udp';
}
export interface VolumeMount {
  source: string;
  target: string;
  readOnly: boolean;
}

/** The part of a blueprint a container is created from; snapshotted onto each container. */
export interface ContainerSpec {
  image: string;
  command: string[];
  ports: PortMapping[];
  volumes: VolumeMount[];
  /** Names only; values live encrypted in `envSealed`. */
  envKeys: string[];
  cpuLimit: number | null;
  memoryLimitMb: number | null;
}

export const blueprints = pgTable(
  'blueprints',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    image: text('image').notNull(),
    command: text('command').array().notNull().default([]),
    ports: jsonb('ports').$type<PortMapping[]>().notNull().default([]),
    volumes: jsonb('volumes').$type<VolumeMount[]>().notNull().default([]),
    /** JSON object of environment variables, encrypted at rest. */
    envSealed: text('env_sealed'),
    cpuLimit: real('cpu_limit'),
    memoryLimitMb: integer('memory_limit_mb'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('blueprints_tenant_id_name_idx').on(t.tenantId, t.name)],
);

export const CONTAINER_STATES = ['creating', 'running', 'stopped', 'failed', 'removing', 'removed'] as const;
export const containerStateEnum = pgEnum('container_state', CONTAINER_STATES);

export const containers = pgTable(
  'containers',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    nodeId: uuid('node_id').notNull().references(() => nodes.id),
    blueprintId: uuid('blueprint_id').references(() => blueprints.id, { onDelete: 'set null' }),
    name: text('name').notNull(),
    spec: jsonb('spec').$type<ContainerSpec>().notNull(),
    envSealed: text('env_sealed'),
    dockerId: text('docker_id'),
    state: containerStateEnum('state').notNull().default('creating'),
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('containers_tenant_id_name_idx').on(t.tenantId, t.name),
    index('containers_node_id_idx').on(t.nodeId),
  ],
);
