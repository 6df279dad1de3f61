import { bigserial, index, jsonb, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { tenants } from './tenancy';

export const ACTOR_TYPES = ['user', 'api_key', 'webhook', 'system'] as const;
export const actorTypeEnum = pgEnum('actor_type', ACTOR_TYPES);

/** One row per mutation, written in the same transaction as the mutation itself. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    actorType: actorTypeEnum('actor_type').notNull(),
    actorId: text('actor_id'),
    action: text('action').notNull(),
    resourceType: text('resource_type').notNull(),
    resourceId: text('resource_id'),
    ip: text('ip'),
    userAgent: text('user_agent'),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /**
     * Set on an entry that more than one writer may record, so it is recorded once: a run's start
     * row is written by the process that started it and, if that process died first, by the run
     * audit sweep from the key the run carries in its memo (decision 0037).
     */
    key: uuid('key'),
  },
  (t) => [index('audit_log_tenant_id_created_at_idx').on(t.tenantId, t.createdAt), uniqueIndex('audit_log_key_idx').on(t.key)],
);

/**
 * How far the run audit sweep has looked (decision 0037): runs that started before `swept_until`
 * (less the sweep's overlap) have been checked for their start row. One row per sweep, locked
 * by the process sweeping, so processes take turns instead of repeating each other's work.
 */
export const auditSweeps = pgTable('audit_sweeps', {
  name: text('name').primaryKey(),
  sweptUntil: timestamp('swept_until', { withTimezone: true }).notNull(),
});
