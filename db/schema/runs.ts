import { bigserial, index, integer, pgEnum, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenants } from './tenancy';

export const LOG_STREAMS = ['stdout', 'stderr', 'system'] as const;
export const logStreamEnum = pgEnum('log_stream', LOG_STREAMS);

/**
 * Output of long activities (docker logs, builds, ansible, terraform) as ordered chunks. The id
 * orders chunks across a run and is the log half of the SSE cursor.
 */
export const runLogs = pgTable(
  'run_logs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    workflowId: text('workflow_id').notNull(),
    runId: text('run_id').notNull(),
    activityId: text('activity_id').notNull(),
    attempt: integer('attempt').notNull().default(1),
    stream: logStreamEnum('stream').notNull(),
    data: text('data').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('run_logs_workflow_id_id_idx').on(t.workflowId, t.id)],
);
