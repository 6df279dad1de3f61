import { encryptSecret } from '@keelson/common/codec';
import { AdvisoryLock, resourceRef, WorkflowId, WorkflowType } from '@keelson/common/constants';
import { writeAudit, type Executor } from '@keelson/db';
import { containers, type ContainerSpec } from '@keelson/db/schema';
import { and, asc, eq, ne, notInArray, sql } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { blueprintEnv, requireBlueprint } from './blueprints-service';
import { auditActor, type ServiceContext } from './context';
import { requireNode } from './nodes-service';
import { startWorkflowRun, type StartedRun } from './runs-service';

type ContainerRow = typeof containers.$inferSelect;
export type PowerAction = 'start' | 'stop' | 'restart';

export function presentContainer(c: ContainerRow) {
  return {
    id: c.id,
    name: c.name,
    nodeId: c.nodeId,
    blueprintId: c.blueprintId,
    image: c.spec.image,
    command: c.spec.command,
    ports: c.spec.ports,
    volumes: c.spec.volumes,
    envKeys: c.spec.envKeys,
    cpuLimit: c.spec.cpuLimit,
    memoryLimitMb: c.spec.memoryLimitMb,
    state: c.state,
    lastError: c.lastError,
    dockerId: c.dockerId,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  };
}

/** Named volumes are namespaced per tenant so one organization can never mount another's. */
export const tenantVolumeName = (tenantId: string, name: string) => `keelson-${tenantId}-${name}`;

export async function listContainers(ctx: ServiceContext, filter: { nodeId?: string; includeRemoved?: boolean }) {
  const rows = await ctx.deps.db
    .select()
    .from(containers)
    .where(
      and(
        eq(containers.tenantId, ctx.principal.tenantId),
        filter.nodeId ? eq(containers.nodeId, filter.nodeId) : undefined,
        filter.includeRemoved ? undefined : ne(containers.state, 'removed'),
      ),
    )
    .orderBy(asc(containers.name));
  return rows.map(presentContainer);
}

export async function requireContainer(ctx: ServiceContext, id: string): Promise<ContainerRow> {
  const [row] = await ctx.deps.db.select().from(containers).where(and(eq(containers.tenantId, ctx.principal.tenantId), eq(containers.id, id)));
  if (!row) throw new NotFoundError('container');
  return row;
}

export interface CreateContainerInput {
  name: string;
  nodeId: string;
  blueprintId: string;
  /** Added to, or overriding, the blueprint's environment. */
  env: Record<string, string>;
  logCaptureSeconds: number;
}

/**
 * Records the container and starts its create workflow in one transaction: if Temporal refuses
 * the start, no record remains; the workflow's first activity retries until the record commits.
 */
export async function createContainer(ctx: ServiceContext, input: CreateContainerInput): Promise<{ container: ReturnType<typeof presentContainer>; run: StartedRun }> {
  const node = await requireNode(ctx, input.nodeId).catch(() => {
    throw new ValidationError(`nodeId: no node ${input.nodeId} in this organization`);
  });
  const blueprint = await requireBlueprint(ctx, input.blueprintId).catch(() => {
    throw new ValidationError(`blueprintId: no blueprint ${input.blueprintId} in this organization`);
  });
  if (node.capacity && blueprint.cpuLimit && blueprint.cpuLimit > node.capacity.cpus) {
    throw new ValidationError(`cpuLimit ${blueprint.cpuLimit} exceeds the ${node.capacity.cpus} CPUs of node ${node.name}`);
  }
  if (node.capacity && blueprint.memoryLimitMb && blueprint.memoryLimitMb * 1024 * 1024 > node.capacity.memoryBytes) {
    throw new ValidationError(`memoryLimitMb ${blueprint.memoryLimitMb} exceeds the memory of node ${node.name}`);
  }
  const env = { ...blueprintEnv(ctx, blueprint), ...input.env };
  const tenantId = ctx.principal.tenantId;
  const spec: ContainerSpec = {
    image: blueprint.image,
    command: blueprint.command,
    ports: blueprint.ports,
    volumes: blueprint.volumes.map((v) => ({ ...v, source: tenantVolumeName(tenantId, v.source) })),
    envKeys: Object.keys(env).sort(),
    cpuLimit: blueprint.cpuLimit,
    memoryLimitMb: blueprint.memoryLimitMb,
  };

  return ctx.deps.db.transaction(async (tx) => {
    await assertPortsFree(tx, node.id, spec.ports.map((p) => p.host));
    const [row] = await tx
      .insert(containers)
      .values({
        tenantId,
        nodeId: node.id,
        blueprintId: blueprint.id,
        name: input.name,
        spec,
        envSealed: Object.keys(env).length ? encryptSecret(ctx.deps.keys, JSON.stringify(env)) : null,
      })
      .onConflictDoNothing()
      .returning();
    if (!row) throw new ConflictError(`a container named "${input.name}" already exists`);
    await writeAudit(tx, { ...auditActor(ctx), action: 'container.create', resourceType: 'container', resourceId: row.id, details: { name: row.name, nodeId: node.id, blueprintId: blueprint.id } });
    const run = await startWorkflowRun(ctx, {
      operation: 'container.create',
      workflowType: WorkflowType.containerCreate,
      workflowId: WorkflowId.containerCreate(row.id),
      input: { containerId: row.id, nodeId: node.id, logCaptureSeconds: input.logCaptureSeconds },
      resources: [resourceRef('container', row.id), resourceRef('node', node.id)],
    }, tx);
    return { container: presentContainer(row), run };
  });
}

/**
 * Host ports already claimed by another live Keelson container on the node → 409. Checked under
 * the node's ports lock (orders choose ports under it too), held until the new row commits.
 */
async function assertPortsFree(tx: Executor, nodeId: string, ports: number[]) {
  if (!ports.length) return;
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${AdvisoryLock.nodePorts(nodeId)}))`);
  const live = await tx
    .select({ name: containers.name, spec: containers.spec })
    .from(containers)
    .where(and(eq(containers.nodeId, nodeId), notInArray(containers.state, ['removed', 'failed'])));
  for (const other of live) {
    const clash = other.spec.ports.find((p) => ports.includes(p.host));
    if (clash) throw new ConflictError(`host port ${clash.host} is already used by container "${other.name}" on this node`);
  }
}

export async function powerContainer(ctx: ServiceContext, id: string, action: PowerAction, stopTimeoutSeconds?: number): Promise<StartedRun> {
  const c = await requireContainer(ctx, id);
  if (c.state === 'removed' || c.state === 'removing') throw new ConflictError(`container is ${c.state}`);
  if (c.state === 'creating') throw new ConflictError('container is still being created');
  return startWorkflowRun(ctx, {
    operation: `container.${action}`,
    workflowType: WorkflowType.containerPower,
    workflowId: WorkflowId.containerAction(c.id, action, randomUUID().slice(0, 8)),
    input: { containerId: c.id, nodeId: c.nodeId, action, stopTimeoutSeconds },
    resources: [resourceRef('container', c.id), resourceRef('node', c.nodeId)],
  });
}

export async function removeContainer(ctx: ServiceContext, id: string): Promise<StartedRun> {
  const c = await requireContainer(ctx, id);
  if (c.state === 'removed') throw new ConflictError('container is already removed');
  return startWorkflowRun(ctx, {
    operation: 'container.remove',
    workflowType: WorkflowType.containerRemove,
    workflowId: WorkflowId.containerRemove(c.id),
    input: { containerId: c.id, nodeId: c.nodeId },
    resources: [resourceRef('container', c.id), resourceRef('node', c.nodeId)],
  });
}
