import { holdService, liftHold, nudgeSuspension } from '@keelson/activities/suspension/index';
import { writeAudit } from '@keelson/db';
import { serviceSuspensions, subscriptions } from '@keelson/db/schema';
import { and, desc, eq } from 'drizzle-orm';
import { ConflictError, NotFoundError } from '../errors';
import { auditActor, type ServiceContext } from './context';
import { customerScope } from './customer-scope';

/**
 * Suspending a customer's service by hand (reason `staff`) and lifting that suspension, through
 * the suspension module (decision 0027): the hold is recorded with its audit row, then the
 * service's suspension run is nudged to stop or start it. A service also held for another reason
 * (an unpaid invoice, KYC) stays stopped when the staff hold is lifted.
 */

const iso = (d: Date | null) => d?.toISOString() ?? null;
const actorRef = (ctx: ServiceContext) => `${ctx.principal.actorType}:${ctx.principal.actorId}`;

async function requireService(ctx: ServiceContext, subscriptionId: string) {
  const scope = customerScope(ctx);
  const [sub] = await ctx.deps.db
    .select({ id: subscriptions.id, customerId: subscriptions.customerId, resource: subscriptions.resource })
    .from(subscriptions)
    .where(and(eq(subscriptions.tenantId, ctx.principal.tenantId), eq(subscriptions.id, subscriptionId), scope ? eq(subscriptions.customerId, scope) : undefined));
  if (!sub) throw new NotFoundError('subscription');
  return sub;
}

function presentHold(row: typeof serviceSuspensions.$inferSelect) {
  return {
    id: row.id,
    resource: row.resource,
    reason: row.reason,
    source: row.source,
    note: row.note,
    requestedBy: row.requestedBy,
    requestedAt: row.requestedAt.toISOString(),
    suspendedAt: iso(row.suspendedAt),
    liftedAt: iso(row.liftedAt),
    liftedBy: row.liftedBy,
    restoredAt: iso(row.restoredAt),
    /** `pending` (asked, not yet stopped), `suspended`, `lifting` (lifted, not yet running), `restored`, `lifted` (lifted while another reason holds it, or before it stopped). */
    state: holdState(row),
  };
}

function holdState(row: typeof serviceSuspensions.$inferSelect): 'pending' | 'suspended' | 'lifting' | 'restored' | 'lifted' {
  if (!row.liftedAt) return row.suspendedAt ? 'suspended' : 'pending';
  if (row.restoredAt) return 'restored';
  return row.suspendedAt ? 'lifting' : 'lifted';
}

export type PresentedHold = ReturnType<typeof presentHold>;

/** Every hold of the subscription's service, newest first. */
export async function listSuspensions(ctx: ServiceContext, subscriptionId: string): Promise<PresentedHold[]> {
  const sub = await requireService(ctx, subscriptionId);
  if (!sub.resource) return [];
  const holds = await holdsOf(ctx, sub.resource);
  // A customer sees why and when, not the staff's note (an abuse report, say) nor who acted.
  if (customerScope(ctx)) return holds.map((h) => ({ ...h, note: '', requestedBy: 'provider', liftedBy: h.liftedBy === null ? null : 'provider' }));
  return holds;
}

export async function holdsOf(ctx: ServiceContext, resource: string): Promise<PresentedHold[]> {
  const rows = await ctx.deps.db
    .select()
    .from(serviceSuspensions)
    .where(and(eq(serviceSuspensions.tenantId, ctx.principal.tenantId), eq(serviceSuspensions.resource, resource)))
    .orderBy(desc(serviceSuspensions.requestedAt))
    .limit(200);
  return rows.map(presentHold);
}

/** Suspends the subscription's service for reason `staff` (a second request finds the same hold). */
export async function suspendByStaff(ctx: ServiceContext, subscriptionId: string, note: string): Promise<PresentedHold[]> {
  const sub = await requireService(ctx, subscriptionId);
  if (!sub.resource) throw new ConflictError('the subscription has no service to suspend');
  const resource = sub.resource;
  await ctx.deps.db.transaction(async (tx) => {
    const { holdId, created } = await holdService(tx, { tenantId: ctx.principal.tenantId, resource, reason: 'staff', source: 'staff', note, requestedBy: actorRef(ctx), subscriptionId });
    if (created) await writeAudit(tx, { ...auditActor(ctx), action: 'service.suspend', resourceType: 'subscription', resourceId: subscriptionId, details: { resource, reason: 'staff', note, holdId } });
  });
  await nudgeSuspension(ctx.deps.temporal, { tenantId: ctx.principal.tenantId, resource, taskQueue: ctx.deps.config.coreTaskQueue, actor: actorRef(ctx), customerId: sub.customerId });
  return holdsOf(ctx, resource);
}

/** Lifts the `staff` hold only; the service runs again if no other reason holds it. */
export async function unsuspendByStaff(ctx: ServiceContext, subscriptionId: string): Promise<PresentedHold[]> {
  const sub = await requireService(ctx, subscriptionId);
  if (!sub.resource) throw new ConflictError('the subscription has no service');
  const resource = sub.resource;
  const lifted = await ctx.deps.db.transaction(async (tx) => {
    const { holdId } = await liftHold(tx, { tenantId: ctx.principal.tenantId, resource, reason: 'staff', liftedBy: actorRef(ctx) });
    if (holdId) await writeAudit(tx, { ...auditActor(ctx), action: 'service.unsuspend', resourceType: 'subscription', resourceId: subscriptionId, details: { resource, reason: 'staff', holdId } });
    return holdId;
  });
  if (!lifted) throw new ConflictError('the service is not suspended by staff');
  await nudgeSuspension(ctx.deps.temporal, { tenantId: ctx.principal.tenantId, resource, taskQueue: ctx.deps.config.coreTaskQueue, actor: actorRef(ctx), customerId: sub.customerId });
  return holdsOf(ctx, resource);
}
