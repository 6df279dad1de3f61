import { deleteDriftSchedule, upsertDriftSchedule } from '@keelson/activities/terraform/schedules';
import { encryptSecret } from '@keelson/common/codec';
import { resourceRef, terraformDriftScheduleId, TerraformOperation, WorkflowId, WorkflowType } from '@keelson/common/constants';
import { writeAudit } from '@keelson/db';
import { proxmoxClusters, terraformDriftFindings, terraformRuns, terraformStacks, type StackVariableValue, type TerraformRunKind } from '@keelson/db/schema';
import { and, desc, eq, inArray } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConflictError, NotFoundError, ValidationError } from '../../errors';
import { auditActor, type ServiceContext } from '../context';
import { startWorkflowRun } from '../runs-service';

/** Keelson's own modules: a stack's `modulePath` without `gitUrl` names a folder here. */
export const MODULES_DIR = fileURLToPath(new URL('../../../../infra/terraform', import.meta.url));

export interface VariableInput {
  value: string;
  /** Sealed at rest; never returned, never logged, masked in plans. */
  secret?: boolean;
}

export interface StackInput {
  name: string;
  modulePath: string;
  gitUrl?: string | null;
  gitRef?: string | null;
  proxmoxClusterId?: string | null;
  variables?: Record<string, VariableInput>;
  driftIntervalMinutes?: number | null;
}

/** `null` removes a variable; a secret given without a value keeps its stored value. */
export interface StackChanges {
  variables?: Record<string, (Partial<VariableInput> & { secret?: boolean }) | null>;
  driftIntervalMinutes?: number | null;
  proxmoxClusterId?: string | null;
}

type StackRow = typeof terraformStacks.$inferSelect;
type RunRow = typeof terraformRuns.$inferSelect;

const FINISHED = ['applied', 'no-changes', 'rejected', 'failed', 'canceled'];

/** Variables as the API shows them: secrets only as "set". */
export function presentStack(stack: StackRow) {
  return {
    id: stack.id,
    name: stack.name,
    modulePath: stack.modulePath,
    gitUrl: stack.gitUrl,
    gitRef: stack.gitRef,
    proxmoxClusterId: stack.proxmoxClusterId,
    backendSchema: stack.backendSchema,
    variables: Object.entries(stack.variables)
      .map(([name, stored]) => ('sealed' in stored ? { name, secret: true, value: null } : { name, secret: false, value: stored.value }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    outputs: stack.outputs,
    driftIntervalMinutes: stack.driftIntervalMinutes,
    driftStatus: stack.driftStatus,
    driftCheckedAt: stack.driftCheckedAt?.toISOString() ?? null,
    createdAt: stack.createdAt.toISOString(),
    updatedAt: stack.updatedAt.toISOString(),
  };
}

export function presentRun(run: RunRow) {
  return {
    id: run.id,
    stackId: run.stackId,
    kind: run.kind,
    workflowId: run.workflowId,
    state: run.state,
    diff: run.diff ?? null,
    plans: run.plans,
    outputs: run.outputs ?? null,
    error: run.error,
    createdBy: run.createdBy,
    approvedBy: run.approvedBy,
    approvedAt: run.approvedAt?.toISOString() ?? null,
    createdAt: run.createdAt.toISOString(),
    finishedAt: run.finishedAt?.toISOString() ?? null,
  };
}

/** Where the module comes from must exist (Keelson's own) or at least look like a path (git). */
function checkModule(input: { modulePath: string; gitUrl?: string | null }) {
  const path = normalize(input.modulePath);
  if (path.startsWith('..') || path.startsWith('/')) throw new ValidationError('modulePath must be a path inside the module source');
  if (input.gitUrl) return;
  const dir = join(MODULES_DIR, path);
  if (!existsSync(dir) || !readdirSync(dir).some((f) => f.endsWith('.tf'))) {
    const known = readdirSync(MODULES_DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    throw new ValidationError(`modulePath "${input.modulePath}" is not a module of infra/terraform (there are: ${known.join(', ')})`);
  }
}

async function checkCluster(ctx: ServiceContext, clusterId: string | null | undefined) {
  if (!clusterId) return;
  const [row] = await ctx.deps.db.select({ id: proxmoxClusters.id }).from(proxmoxClusters).where(and(eq(proxmoxClusters.tenantId, ctx.principal.tenantId), eq(proxmoxClusters.id, clusterId)));
  if (!row) throw new ValidationError('proxmoxClusterId is not a cluster of this organization');
}

function sealVariables(ctx: ServiceContext, variables: Record<string, VariableInput>): Record<string, StackVariableValue> {
  return Object.fromEntries(Object.entries(variables).map(([name, v]) => [name, v.secret ? { sealed: encryptSecret(ctx.deps.keys, v.value) } : { value: v.value }]));
}

async function syncDriftSchedule(ctx: ServiceContext, stack: StackRow) {
  if (stack.driftIntervalMinutes) {
    await upsertDriftSchedule(ctx.deps.temporal, { tenantId: stack.tenantId, stackId: stack.id, actor: ctx.principal.actor, taskQueue: ctx.deps.config.coreTaskQueue, everyMs: stack.driftIntervalMinutes * (ctx.deps.config.terraformDriftMinuteMs ?? 60_000) });
  } else {
    await deleteDriftSchedule(ctx.deps.temporal, stack.id);
  }
}

export async function listStacks(ctx: ServiceContext) {
  const rows = await ctx.deps.db.select().from(terraformStacks).where(eq(terraformStacks.tenantId, ctx.principal.tenantId)).orderBy(terraformStacks.name);
  return rows.map(presentStack);
}

/** A stack of the caller's organization; another organization's is the same 404 as none. */
export async function requireStack(ctx: ServiceContext, id: string): Promise<StackRow> {
  const [row] = await ctx.deps.db.select().from(terraformStacks).where(and(eq(terraformStacks.tenantId, ctx.principal.tenantId), eq(terraformStacks.id, id)));
  if (!row) throw new NotFoundError('stack');
  return row;
}

export async function getStack(ctx: ServiceContext, id: string) {
  const stack = await requireStack(ctx, id);
  const runs = await ctx.deps.db.select().from(terraformRuns).where(and(eq(terraformRuns.tenantId, ctx.principal.tenantId), eq(terraformRuns.stackId, id))).orderBy(desc(terraformRuns.createdAt)).limit(20);
  const [drift] = await ctx.deps.db
    .select()
    .from(terraformDriftFindings)
    .where(and(eq(terraformDriftFindings.tenantId, ctx.principal.tenantId), eq(terraformDriftFindings.stackId, id), eq(terraformDriftFindings.open, true)));
  return {
    ...presentStack(stack),
    runs: runs.map(presentRun),
    drift: drift ? { id: drift.id, diff: drift.diff, openedAt: drift.openedAt.toISOString(), lastSeenAt: drift.lastSeenAt.toISOString() } : null,
  };
}

export async function createStack(ctx: ServiceContext, input: StackInput) {
  checkModule(input);
  await checkCluster(ctx, input.proxmoxClusterId);
  const id = randomUUID();
  const stack = await ctx.deps.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(terraformStacks)
      .values({
        id,
        tenantId: ctx.principal.tenantId,
        name: input.name,
        modulePath: input.modulePath,
        gitUrl: input.gitUrl ?? null,
        gitRef: input.gitRef ?? null,
        proxmoxClusterId: input.proxmoxClusterId ?? null,
        variables: sealVariables(ctx, input.variables ?? {}),
        // One schema per stack, named by its id: unique, and never a name a caller chose.
        backendSchema: `tfstate_${id.replace(/-/g, '')}`,
        driftIntervalMinutes: input.driftIntervalMinutes ?? null,
      })
      .returning()
      .catch((err: { code?: string; cause?: { code?: string } }) => {
        if ((err.code ?? err.cause?.code) === '23505') throw new ConflictError(`a stack named "${input.name}" already exists`);
        throw err;
      });
    await writeAudit(tx, { ...auditActor(ctx), action: 'terraform.stack.create', resourceType: 'terraform-stack', resourceId: id, details: { name: input.name, modulePath: input.modulePath, gitUrl: input.gitUrl ?? null, variables: Object.keys(input.variables ?? {}) } });
    return row!;
  });
  await syncDriftSchedule(ctx, stack);
  return presentStack(stack);
}

export async function updateStack(ctx: ServiceContext, id: string, changes: StackChanges) {
  const current = await requireStack(ctx, id);
  if (changes.proxmoxClusterId !== undefined) await checkCluster(ctx, changes.proxmoxClusterId);
  const variables = { ...current.variables };
  for (const [name, change] of Object.entries(changes.variables ?? {})) {
    if (change === null) {
      delete variables[name];
      continue;
    }
    const existing = variables[name];
    const secret = change.secret ?? (existing ? 'sealed' in existing : false);
    if (change.value === undefined) {
      if (!existing) throw new ValidationError(`variable "${name}" needs a value`);
      if (secret !== 'sealed' in existing) throw new ValidationError(`variable "${name}": give its value to change whether it is secret`);
      continue;
    }
    variables[name] = secret ? { sealed: encryptSecret(ctx.deps.keys, change.value) } : { value: change.value };
  }
  const stack = await ctx.deps.db.transaction(async (tx) => {
    const [row] = await tx
      .update(terraformStacks)
      .set({
        variables,
        ...(changes.driftIntervalMinutes !== undefined ? { driftIntervalMinutes: changes.driftIntervalMinutes } : {}),
        ...(changes.proxmoxClusterId !== undefined ? { proxmoxClusterId: changes.proxmoxClusterId } : {}),
        updatedAt: new Date(),
      })
      .where(and(eq(terraformStacks.tenantId, ctx.principal.tenantId), eq(terraformStacks.id, id)))
      .returning();
    await writeAudit(tx, { ...auditActor(ctx), action: 'terraform.stack.update', resourceType: 'terraform-stack', resourceId: id, details: { variables: Object.keys(changes.variables ?? {}), driftIntervalMinutes: changes.driftIntervalMinutes } });
    return row!;
  });
  if (changes.driftIntervalMinutes !== undefined) await syncDriftSchedule(ctx, stack);
  return presentStack(stack);
}

/**
 * Starts a run (plan → approval → apply). One unfinished run per stack; a destroy must be
 * confirmed with the stack's name.
 */
export async function startStackRun(ctx: ServiceContext, id: string, input: { kind: TerraformRunKind; confirm?: string }) {
  const stack = await requireStack(ctx, id);
  if (input.kind === 'destroy' && input.confirm !== stack.name) throw new ValidationError(`a destroy must be confirmed: give the stack's name ("${stack.name}") as confirm`);
  const runId = randomUUID();
  const workflowId = WorkflowId.terraformRun(stack.id, runId);
  return ctx.deps.db.transaction(async (tx) => {
    // Serializes run starts of this stack.
    await tx.select({ id: terraformStacks.id }).from(terraformStacks).where(eq(terraformStacks.id, stack.id)).for('update');
    const active = await tx
      .select({ id: terraformRuns.id, state: terraformRuns.state })
      .from(terraformRuns)
      .where(and(eq(terraformRuns.stackId, stack.id), inArray(terraformRuns.state, ['planning', 'awaiting-approval', 'applying'])));
    if (active.length > 0) throw new ConflictError(`stack "${stack.name}" has a run in progress (${active[0]!.state}); finish or cancel it first`);
    const [run] = await tx.insert(terraformRuns).values({ id: runId, tenantId: ctx.principal.tenantId, stackId: stack.id, kind: input.kind, workflowId, createdBy: ctx.principal.actor }).returning();
    const started = await startWorkflowRun(
      ctx,
      {
        operation: input.kind === 'destroy' ? TerraformOperation.destroy : TerraformOperation.apply,
        workflowType: WorkflowType.terraformRun,
        workflowId,
        input: { runId, stackId: stack.id, stackName: stack.name, kind: input.kind },
        resources: [resourceRef('terraform-stack', stack.id)],
      },
      tx,
    );
    return { ...presentRun(run!), run: started };
  });
}

/** Runs the stack's drift check now, through its Schedule (which keeps one check at a time). */
export async function checkDriftNow(ctx: ServiceContext, id: string): Promise<void> {
  const stack = await requireStack(ctx, id);
  if (!stack.driftIntervalMinutes) throw new ConflictError(`stack "${stack.name}" has no drift schedule; set driftIntervalMinutes first`);
  await ctx.deps.temporal.schedule.getHandle(terraformDriftScheduleId(stack.id)).trigger();
  await writeAudit(ctx.deps.db, { ...auditActor(ctx), action: 'terraform.stack.drift-check', resourceType: 'terraform-stack', resourceId: id, details: {} });
}

export async function listStackRuns(ctx: ServiceContext, id: string) {
  await requireStack(ctx, id);
  const rows = await ctx.deps.db.select().from(terraformRuns).where(and(eq(terraformRuns.tenantId, ctx.principal.tenantId), eq(terraformRuns.stackId, id))).orderBy(desc(terraformRuns.createdAt)).limit(100);
  return rows.map(presentRun);
}

export async function getRun(ctx: ServiceContext, runId: string) {
  const [row] = await ctx.deps.db.select().from(terraformRuns).where(and(eq(terraformRuns.tenantId, ctx.principal.tenantId), eq(terraformRuns.id, runId)));
  if (!row) throw new NotFoundError('run');
  return presentRun(row);
}

export { FINISHED as FINISHED_RUN_STATES };
