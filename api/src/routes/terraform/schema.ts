import { z } from '@hono/zod-openapi';
import { ResourceName, StartedRunSchema } from '../../schemas';

const VariableName = z.string().min(1).max(64).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'variable names are letters, digits and _ (not starting with a digit)');
const VariableValue = z.string().max(65_536);
const Variables = <T extends z.ZodType>(value: T) =>
  z.record(VariableName, value).refine((v) => Object.keys(v).length <= 100, 'at most 100 variables');

const ModulePath = z
  .string()
  .min(1)
  .max(300)
  .regex(/^[A-Za-z0-9_.][A-Za-z0-9_./-]*$/, 'a relative path like proxmox-vm or modules/web')
  .refine((p) => !p.split('/').includes('..'), 'must stay inside the module source');

const GitUrl = z
  .string()
  .max(500)
  .refine((v) => /^(https?|ssh|git|file):\/\//.test(v) || /^[\w.-]+@[\w.-]+:/.test(v) || v.startsWith('/'), 'a git URL (https://…, ssh://…, git@host:path, or a local path)');

export const StackBody = z
  .object({
    name: ResourceName,
    modulePath: ModulePath.openapi({ description: 'A module of infra/terraform, or a path inside gitUrl' }),
    gitUrl: GitUrl.nullish(),
    gitRef: z.string().max(200).regex(/^[\w./-]+$/, 'a branch or tag name').nullish(),
    proxmoxClusterId: z.uuid({ error: 'must be a cluster id (UUID)' }).nullish().openapi({ description: 'bpg/proxmox gets its endpoint, token and CA from this cluster' }),
    variables: Variables(z.object({ value: VariableValue, secret: z.boolean().optional() })).optional(),
    driftIntervalMinutes: z.number().int().min(1).max(10_080).nullish().openapi({ description: 'Minutes between drift checks; null for none' }),
  })
  .openapi('TerraformStackBody');

export const StackPatch = z
  .object({
    variables: Variables(z.object({ value: VariableValue.optional(), secret: z.boolean().optional() }).nullable()).optional(),
    proxmoxClusterId: z.uuid({ error: 'must be a cluster id (UUID)' }).nullable().optional(),
    driftIntervalMinutes: z.number().int().min(1).max(10_080).nullable().optional(),
  })
  .openapi('TerraformStackPatch');

export const StartRunBody = z
  .object({
    kind: z.enum(['apply', 'destroy']).default('apply'),
    confirm: z.string().max(63).optional().openapi({ description: "A destroy needs the stack's name here" }),
  })
  .openapi('TerraformStartRun');

const Outputs = z.record(z.string(), z.object({ value: z.unknown(), sensitive: z.boolean() }));

const AttributeChange = z.object({
  path: z.string(),
  before: z.string().optional(),
  after: z.string().optional(),
  unknown: z.boolean().optional(),
  sensitive: z.boolean().optional(),
  forcesReplacement: z.boolean().optional(),
});
const Action = z.enum(['create', 'update', 'replace', 'delete', 'read']);
export const PlanDiffSchema = z
  .object({
    resources: z.array(z.object({ address: z.string(), type: z.string(), action: Action, attributes: z.array(AttributeChange) })),
    outputs: z.array(z.object({ name: z.string(), action: Action, before: z.string().optional(), after: z.string().optional(), unknown: z.boolean().optional(), sensitive: z.boolean().optional() })),
    summary: z.object({ create: z.number(), update: z.number(), replace: z.number(), delete: z.number() }),
    empty: z.boolean(),
  })
  .openapi('TerraformPlanDiff');

export const RunSchema = z
  .object({
    id: z.string(),
    stackId: z.string(),
    kind: z.enum(['apply', 'destroy']),
    workflowId: z.string(),
    state: z.string(),
    diff: PlanDiffSchema.nullable(),
    plans: z.number(),
    outputs: Outputs.nullable(),
    error: z.string().nullable(),
    createdBy: z.string(),
    approvedBy: z.string().nullable(),
    approvedAt: z.string().nullable(),
    createdAt: z.string(),
    finishedAt: z.string().nullable(),
  })
  .openapi('TerraformRun');

export const StackSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    modulePath: z.string(),
    gitUrl: z.string().nullable(),
    gitRef: z.string().nullable(),
    proxmoxClusterId: z.string().nullable(),
    backendSchema: z.string(),
    variables: z.array(z.object({ name: z.string(), secret: z.boolean(), value: z.string().nullable() })),
    outputs: Outputs,
    driftIntervalMinutes: z.number().nullable(),
    driftStatus: z.string(),
    driftCheckedAt: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('TerraformStack');

export const StackDetailSchema = StackSchema.extend({
  runs: z.array(RunSchema),
  drift: z.object({ id: z.string(), diff: PlanDiffSchema, openedAt: z.string(), lastSeenAt: z.string() }).nullable(),
}).openapi('TerraformStackDetail');

export const StackListSchema = z.object({ items: z.array(StackSchema) });
export const RunListSchema = z.object({ items: z.array(RunSchema) });
export const StartedStackRunSchema = RunSchema.extend({ run: StartedRunSchema }).openapi('TerraformStartedRun');
export const DriftCheckSchema = z.object({ triggered: z.literal(true) }).openapi('TerraformDriftCheck');
