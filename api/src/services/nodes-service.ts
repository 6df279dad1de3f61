import { TaskQueue } from '@keelson/common/constants';
import { writeAudit } from '@keelson/db';
import { containers, nodes } from '@keelson/db/schema';
import { and, asc, eq, inArray } from 'drizzle-orm';
import { ConflictError, NotFoundError } from '../errors';
import { auditActor, type ServiceContext } from './context';

/** A node whose worker has not reported for this long is shown offline. */
export const NODE_STALE_MS = 60_000;

type NodeRow = typeof nodes.$inferSelect;

export function presentNode(n: NodeRow) {
  const fresh = n.lastSeenAt !== null && Date.now() - n.lastSeenAt.getTime() < NODE_STALE_MS;
  return {
    id: n.id,
    name: n.name,
    kind: n.kind,
    endpoint: n.endpoint,
    status: n.status === 'online' && !fresh ? ('offline' as const) : n.status,
    capacity: n.capacity,
    lastSeenAt: n.lastSeenAt?.toISOString() ?? null,
    taskQueue: TaskQueue.node(n.id),
    createdAt: n.createdAt.toISOString(),
  };
}

export async function listNodes(ctx: ServiceContext) {
  const rows = await ctx.deps.db.select().from(nodes).where(eq(nodes.tenantId, ctx.principal.tenantId)).orderBy(asc(nodes.name));
  return rows.map(presentNode);
}

export async function requireNode(ctx: ServiceContext, id: string): Promise<NodeRow> {
  const [row] = await ctx.deps.db.select().from(nodes).where(and(eq(nodes.tenantId, ctx.principal.tenantId), eq(nodes.id, id)));
  if (!row) throw new NotFoundError('node');
  return row;
}

export async function registerNode(ctx: ServiceContext, input: { name: string; endpoint: string }) {
  return ctx.deps.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(nodes)
      .values({ tenantId: ctx.principal.tenantId, name: input.name, endpoint: input.endpoint, kind: 'docker' })
      .onConflictDoNothing()
      .returning();
    if (!row) throw new ConflictError(`a node named "${input.name}" already exists`);
    await writeAudit(tx, { ...auditActor(ctx), action: 'node.register', resourceType: 'node', resourceId: row.id, details: { name: input.name } });
    return presentNode(row);
  });
}

export async function removeNode(ctx: ServiceContext, id: string) {
  await ctx.deps.db.transaction(async (tx) => {
    const [node] = await tx.select().from(nodes).where(and(eq(nodes.tenantId, ctx.principal.tenantId), eq(nodes.id, id))).for('update');
    if (!node) throw new NotFoundError('node');
    const live = await tx
      .select({ id: containers.id })
      .from(containers)
      .where(and(eq(containers.nodeId, id), inArray(containers.state, ['creating', 'running', 'stopped', 'removing'])))
      .limit(1);
    if (live.length) throw new ConflictError('node still has containers; remove them first');
    await tx.delete(containers).where(eq(containers.nodeId, id));
    await tx.delete(nodes).where(eq(nodes.id, id));
    await writeAudit(tx, { ...auditActor(ctx), action: 'node.remove', resourceType: 'node', resourceId: id, details: { name: node.name } });
  });
}
