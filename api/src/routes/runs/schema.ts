import { z } from '@hono/zod-openapi';
import { RUN_STATUSES } from '@keelson/common/constants';
import { PERMISSIONS } from '@keelson/common/permissions';
import { STEP_STATES } from '../../services/run-history';

export const RunIdParams = z.object({
  workflowId: z
    .string()
    .min(1)
    .max(1000)
    .openapi({ param: { name: 'workflowId', in: 'path' }, description: 'URL-encoded workflow id, e.g. container%2F…%2Fcreate' }),
});
export const RunIdQuery = z.object({ runId: z.string().uuid().optional() });

/** An error and its cause chain (a named component, so the recursion is a $ref in OpenAPI). */
const RunErrorSchema = z
  .object({
    message: z.string(),
    type: z.string().nullable(),
    nonRetryable: z.boolean(),
    get cause(): z.ZodNullable<typeof RunErrorSchema> {
      return RunErrorSchema.nullable();
    },
  })
  .openapi('RunError');

export const RunSummarySchema = z
  .object({
    workflowId: z.string(),
    runId: z.string(),
    operation: z.string().nullable(),
    workflowType: z.string(),
    status: z.enum([...RUN_STATUSES, 'Unknown']),
    startedAt: z.string().nullable(),
    closedAt: z.string().nullable(),
    durationMs: z.number().nullable(),
    resources: z.array(z.string()),
    actor: z.string().nullable(),
  })
  .openapi('RunSummary');

const ApprovalDecisionSchema = z
  .object({ outcome: z.enum(['approved', 'rejected', 'expired', 'canceled']), by: z.string().nullable(), comment: z.string().nullable(), at: z.string() })
  .openapi('ApprovalDecision');

const ApprovalSchema = z
  .object({ prompt: z.string(), expiresAt: z.string().nullable(), decision: ApprovalDecisionSchema.nullable() })
  .openapi('Approval', { description: 'A question the run asked a person, and the answer once given' });

export const RunStepSchema = z
  .object({
    id: z.string(),
    kind: z.enum(['activity', 'timer', 'signal', 'update', 'child', 'approval']),
    name: z.string(),
    state: z.enum(STEP_STATES),
    attempts: z.number(),
    scheduledAt: z.string().nullable(),
    startedAt: z.string().nullable(),
    endedAt: z.string().nullable(),
    taskQueue: z.string().nullable(),
    input: z.unknown().optional(),
    output: z.unknown().optional(),
    error: RunErrorSchema.nullable(),
    nextAt: z.string().nullable(),
    approval: ApprovalSchema.optional(),
  })
  .openapi('RunStep');

export const RunDetailSchema = RunSummarySchema.extend({
  taskQueue: z.string().nullable(),
  historyLength: z.number(),
  input: z.unknown().optional(),
  result: z.unknown().optional(),
  error: RunErrorSchema.nullable(),
  steps: z.array(RunStepSchema),
  waitingFor: z.array(z.object({ kind: z.enum(['retry', 'timer', 'approval']), step: z.string(), until: z.string().nullable() })),
  payloadsVisible: z.boolean(),
  temporalUiUrl: z.string(),
  actions: z.object({ cancel: z.boolean(), terminate: z.boolean(), retry: z.boolean(), rerun: z.boolean(), decide: z.boolean() }),
}).openapi('RunDetail');

export const DecisionBody = z.object({
  decision: z.enum(['approve', 'reject']),
  comment: z.string().trim().max(1000).optional(),
});

export { ApprovalDecisionSchema };

export const ListRunsQuery = z.object({
  status: z.enum(RUN_STATUSES).optional(),
  operation: z
    .string()
    .regex(/^[a-z]+\.[a-z-]+$/, 'an operation name like container.create')
    .optional(),
  resource: z
    .string()
    .regex(/^[a-z]+:[A-Za-z0-9._/-]+$/, 'a resource reference like container:<id>')
    .optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  pageSize: z.coerce.number().int().min(1).max(200).default(50),
  pageToken: z.string().max(4096).optional(),
});

export const ListRunsResponse = z.object({ items: z.array(RunSummarySchema), nextPageToken: z.string().nullable() }).openapi('RunList');

export const StartRunBody = z
  .object({ operation: z.string().openapi({ example: 'system.noop' }), input: z.record(z.string(), z.unknown()).default({}) })
  .openapi('StartRun');

export const TerminateBody = z.object({ reason: z.string().trim().min(1, 'a reason is required').max(500) });

export const MessageBody = z.object({
  name: z.string().min(1).max(200),
  args: z.array(z.unknown()).max(20).default([]),
});

export const OperationCatalogSchema = z
  .object({ items: z.array(z.object({ name: z.string(), permission: z.enum(PERMISSIONS), inputSchema: z.unknown() })) })
  .openapi('OperationCatalog');

/** `ok: true` for requests Temporal accepted (cancel, terminate, signal). */
export const AcceptedSchema = z.object({ ok: z.literal(true) });

export const RetriedRunSchema = z.object({ workflowId: z.string(), runId: z.string() }).openapi('RetriedRun');

export const UpdateResultSchema = z.object({ result: z.unknown() }).openapi('UpdateResult');

// The data of the run stream's events (GET /api/runs/{workflowId}/stream), one schema per event name.

/** `log`: one chunk of a step's output. */
export const RunLogChunkSchema = z
  .object({
    id: z.number(),
    runId: z.string(),
    activityId: z.string().nullable(),
    attempt: z.number().nullable(),
    stream: z.enum(['stdout', 'stderr', 'system']),
    data: z.string(),
    at: z.string(),
  })
  .openapi('RunLogChunk');

/** `history`: new history events, in order. */
export const HistoryBatchSchema = z
  .object({ events: z.array(z.object({ eventId: z.number(), eventType: z.string(), time: z.string().nullable() })) })
  .openapi('RunHistoryBatch');

/** `steps`: the run's steps folded again after new history. */
export const StepsSnapshotSchema = z.object({ steps: z.array(RunStepSchema), closed: z.boolean() }).openapi('RunStepsSnapshot');

/** `end`: the run closed and its output is drained; the stream ends after it. */
export const RunEndSchema = z.object({ status: z.enum([...RUN_STATUSES, 'Unknown']), runId: z.string() }).openapi('RunEnd');

/** Each event of the run stream and the shape of its data. */
export const RunStreamEventSchemas = { history: HistoryBatchSchema, steps: StepsSnapshotSchema, log: RunLogChunkSchema, end: RunEndSchema } as const;
