import type { AlertCarried } from '@keelson/activities/monitoring/types';
import { writeAudit, type Executor } from '@keelson/db';
import { alertNotifications, alerts, memberships, monitoredResources, users, type AlertState } from '@keelson/db/schema';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { and, asc, desc, eq, inArray, lt } from 'drizzle-orm';
import { ConflictError, NotFoundError } from '../../errors';
import { auditActor, type ServiceContext } from '../context';

type AlertRow = typeof alerts.$inferSelect;

export function presentAlert(a: AlertRow, resourceName: string | null = null, resourceKind: string | null = null, people: People = new Map()) {
  return {
    id: a.id,
    ruleId: a.ruleId,
    resourceId: a.resourceId,
    resourceName,
    resourceKind,
    kind: a.kind,
    workflowId: a.workflowId,
    state: a.state,
    severity: a.severity,
    summary: a.summary,
    value: a.value,
    threshold: a.threshold,
    startedAt: a.startedAt.toISOString(),
    firedAt: a.firedAt?.toISOString() ?? null,
    acknowledgedAt: a.acknowledgedAt?.toISOString() ?? null,
    acknowledgedBy: a.acknowledgedBy,
    acknowledgedByName: a.acknowledgedBy ? (people.get(a.acknowledgedBy) ?? null) : null,
    acknowledgeComment: a.acknowledgeComment,
    resolvedAt: a.resolvedAt?.toISOString() ?? null,
    suppressedBy: a.suppressedBy,
  };
}
export type AlertView = ReturnType<typeof presentAlert>;

/** Actors (`user:<id>`) by the name people know them by: `Ada Lovelace (ada@hoster.test)`. */
type People = Map<string, string>;

/**
 * The members of the organization among `actors`, named. Only this organization's members: an
 * actor of another (which cannot acknowledge here anyway) stays unnamed. API keys stay as they are.
 */
export async function namePeople(db: Executor, tenantId: string, actors: Array<string | null>): Promise<People> {
  const ids = [...new Set(actors.flatMap((a) => (a?.startsWith('user:') ? [a.slice('user:'.length)] : [])))].filter((id) => UUID.test(id));
  if (!ids.length) return new Map();
  const rows = await db
    .select({ id: users.id, name: users.name, email: users.email })
    .from(users)
    .innerJoin(memberships, and(eq(memberships.userId, users.id), eq(memberships.tenantId, tenantId)))
    .where(inArray(users.id, ids));
  return new Map(rows.map((u) => [`user:${u.id}`, u.name && u.name !== u.email ? `${u.name} (${u.email})` : u.email]));
}
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface AlertFilter {
  state?: AlertState[];
  ruleId?: string;
  resourceId?: string;
  /** Only alerts that fired (leaves out pending episodes that never did). */
  firedOnly?: boolean;
  before?: string;
  limit: number;
}

export async function listAlerts(ctx: ServiceContext, f: AlertFilter) {
  const rows = await ctx.deps.db
    .select({ alert: alerts, resourceName: monitoredResources.name, resourceKind: monitoredResources.kind })
    .from(alerts)
    .leftJoin(monitoredResources, eq(monitoredResources.id, alerts.resourceId))
    .where(
      and(
        eq(alerts.tenantId, ctx.principal.tenantId),
        f.state?.length ? inArray(alerts.state, f.state) : undefined,
        f.ruleId ? eq(alerts.ruleId, f.ruleId) : undefined,
        f.resourceId ? eq(alerts.resourceId, f.resourceId) : undefined,
        f.firedOnly ? inArray(alerts.state, ['firing', 'acknowledged', 'resolved']) : undefined,
        f.before ? lt(alerts.startedAt, new Date(f.before)) : undefined,
      ),
    )
    .orderBy(desc(alerts.startedAt))
    .limit(f.limit);
  const people = await namePeople(ctx.deps.db, ctx.principal.tenantId, rows.map((r) => r.alert.acknowledgedBy));
  return rows.map((r) => presentAlert(r.alert, r.resourceName, r.resourceKind, people));
}

async function requireAlert(ctx: ServiceContext, id: string) {
  const [row] = await ctx.deps.db
    .select({ alert: alerts, resourceName: monitoredResources.name, resourceKind: monitoredResources.kind })
    .from(alerts)
    .leftJoin(monitoredResources, eq(monitoredResources.id, alerts.resourceId))
    .where(and(eq(alerts.tenantId, ctx.principal.tenantId), eq(alerts.id, id)));
  if (!row) throw new NotFoundError('alert');
  return row;
}

export async function getAlert(ctx: ServiceContext, id: string) {
  const row = await requireAlert(ctx, id);
  const notifications = await ctx.deps.db
    .select()
    .from(alertNotifications)
    .where(and(eq(alertNotifications.tenantId, ctx.principal.tenantId), eq(alertNotifications.alertId, id)))
    .orderBy(asc(alertNotifications.sequence), asc(alertNotifications.channel));
  const people = await namePeople(ctx.deps.db, ctx.principal.tenantId, [row.alert.acknowledgedBy]);
  return {
    ...presentAlert(row.alert, row.resourceName, row.resourceKind, people),
    notifications: notifications.map((n) => ({
      sequence: n.sequence,
      channel: n.channel,
      event: n.event,
      status: n.status,
      attempts: n.attempts,
      lastError: n.lastError,
      createdAt: n.createdAt.toISOString(),
      sentAt: n.sentAt?.toISOString() ?? null,
    })),
  };
}

/**
 * Acknowledges a firing alert as the caller: through its alert run's `acknowledge` Update, or,
 * for a Terraform drift finding (whose alert has no run of its own: the stack's drift checks open
 * and resolve it, and it sends nothing), on its row.
 */
export async function acknowledgeAlert(ctx: ServiceContext, id: string, comment: string) {
  const row = await requireAlert(ctx, id);
  if (row.alert.state !== 'firing') throw new ConflictError(`only a firing alert can be acknowledged; this one is ${row.alert.state}`);
  if (row.alert.kind === 'drift') return acknowledgeInPlace(ctx, id, comment);
  const handle = ctx.deps.temporal.workflow.getHandle(row.alert.workflowId);
  try {
    const state = (await handle.executeUpdate('acknowledge', { args: [{ by: ctx.principal.actor, comment }] })) as AlertCarried;
    if (state.alertId !== id) throw new ConflictError('this alert has ended; a newer one of the same rule and resource is open');
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new ConflictError('this alert has ended');
    // The validator refused: already acknowledged, or no longer firing.
    if (err instanceof WorkflowUpdateFailedError) throw new ConflictError((err.cause as Error | undefined)?.message ?? err.message);
    throw err;
  }
  await writeAudit(ctx.deps.db, { ...auditActor(ctx), action: 'alert.acknowledge', resourceType: 'alert', resourceId: id, details: { comment } });
  return getAlert(ctx, id);
}

/** Acknowledges an alert without a run, once: the state moves only from `firing`, with its audit row. */
async function acknowledgeInPlace(ctx: ServiceContext, id: string, comment: string) {
  await ctx.deps.db.transaction(async (tx) => {
    const now = new Date();
    const [done] = await tx
      .update(alerts)
      .set({ state: 'acknowledged', acknowledgedAt: now, acknowledgedBy: ctx.principal.actor, acknowledgeComment: comment, updatedAt: now })
      .where(and(eq(alerts.tenantId, ctx.principal.tenantId), eq(alerts.id, id), eq(alerts.state, 'firing')))
      .returning({ id: alerts.id });
    if (!done) throw new ConflictError('this alert is no longer firing (acknowledged or resolved meanwhile)');
    await writeAudit(tx, { ...auditActor(ctx), action: 'alert.acknowledge', resourceType: 'alert', resourceId: id, details: { comment } });
  });
  return getAlert(ctx, id);
}

/** Tells the organization's open alerts that silences or maintenance changed, so held notifications go out now. */
export async function nudgeOpenAlerts(ctx: ServiceContext): Promise<void> {
  const open = await ctx.deps.db
    .select({ workflowId: alerts.workflowId })
    .from(alerts)
    .where(and(eq(alerts.tenantId, ctx.principal.tenantId), inArray(alerts.state, ['firing', 'acknowledged'])));
  await Promise.all(
    [...new Set(open.map((a) => a.workflowId))].map((workflowId) =>
      ctx.deps.temporal.workflow
        .getHandle(workflowId)
        .signal('suppressionChanged')
        .catch(() => undefined),
    ),
  );
}
