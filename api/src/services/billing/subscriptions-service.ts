import { cancelSubscription as cancelRecord, createSubscription as createRecord } from '@keelson/activities/billing/subscriptions';
import { writeAudit, type Executor } from '@keelson/db';
import { customers, plans, products, subscriptions, type BillingCycle, type SubscriptionStatus } from '@keelson/db/schema';
import { and, desc, eq, type SQL } from 'drizzle-orm';
import { NotFoundError } from '../../errors';
import { auditActor, type ServiceContext } from '../context';
import { customerScope } from '../customer-scope';
import { ledgerCall } from './ledger-errors';

type Row = { sub: typeof subscriptions.$inferSelect; planName: string; productName: string; customerName: string };

export function presentSubscription({ sub, planName, productName, customerName }: Row) {
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  return {
    id: sub.id,
    customerId: sub.customerId,
    customerName,
    planId: sub.planId,
    planName,
    productName,
    cycle: sub.cycle,
    status: sub.status,
    quantity: sub.quantity,
    unitPriceMinor: sub.unitPriceMinor,
    currency: sub.currency,
    timeZone: sub.timeZone,
    anchorDate: sub.anchorDate,
    trialEndsAt: iso(sub.trialEndsAt),
    currentPeriodStart: iso(sub.currentPeriodStart),
    currentPeriodEnd: iso(sub.currentPeriodEnd),
    nextPeriodStart: sub.nextPeriodStart.toISOString(),
    cancelAtPeriodEnd: sub.cancelAtPeriodEnd,
    cancelledAt: iso(sub.cancelledAt),
    endsAt: iso(sub.endsAt),
    orderId: sub.orderId,
    resource: sub.resource,
    createdAt: sub.createdAt.toISOString(),
  };
}

function query(db: Executor, ctx: ServiceContext, ...more: Array<SQL | undefined>) {
  const scope = customerScope(ctx);
  return db
    .select({ sub: subscriptions, planName: plans.name, productName: products.name, customerName: customers.name })
    .from(subscriptions)
    .innerJoin(plans, eq(plans.id, subscriptions.planId))
    .innerJoin(products, eq(products.id, plans.productId))
    .innerJoin(customers, eq(customers.id, subscriptions.customerId))
    .where(and(eq(subscriptions.tenantId, ctx.principal.tenantId), scope ? eq(subscriptions.customerId, scope) : undefined, ...more));
}

export async function listSubscriptions(ctx: ServiceContext, filter: { customerId?: string; status?: SubscriptionStatus }) {
  const rows = await query(
    ctx.deps.db,
    ctx,
    filter.customerId ? eq(subscriptions.customerId, filter.customerId) : undefined,
    filter.status ? eq(subscriptions.status, filter.status) : undefined,
  )
    .orderBy(desc(subscriptions.createdAt), desc(subscriptions.id))
    .limit(1000);
  return rows.map(presentSubscription);
}

export async function getSubscription(ctx: ServiceContext, id: string, db: Executor = ctx.deps.db) {
  const [row] = await query(db, ctx, eq(subscriptions.id, id));
  if (!row) throw new NotFoundError('subscription');
  return presentSubscription(row);
}

export interface SubscriptionInput {
  customerId: string;
  planId: string;
  cycle: BillingCycle;
  quantity: number;
  startAt?: string;
}

/** Staff start a subscription directly (an order does this through its workflow). */
export async function createSubscription(ctx: ServiceContext, input: SubscriptionInput) {
  return ctx.deps.db.transaction(async (tx) => {
    const row = await ledgerCall(() =>
      createRecord(tx, { tenantId: ctx.principal.tenantId, customerId: input.customerId, planId: input.planId, cycle: input.cycle, quantity: input.quantity, startAt: input.startAt ? new Date(input.startAt) : new Date(), status: 'active' }),
    );
    await writeAudit(tx, { ...auditActor(ctx), action: 'subscription.create', resourceType: 'subscription', resourceId: row.id, details: { customerId: row.customerId, planId: row.planId, cycle: row.cycle, unitPriceMinor: row.unitPriceMinor, currency: row.currency } });
    return getSubscription(ctx, row.id, tx);
  });
}

export async function cancelSubscription(ctx: ServiceContext, id: string, when: 'now' | 'period_end') {
  return ctx.deps.db.transaction(async (tx) => {
    await getSubscription(ctx, id, tx);
    const row = await ledgerCall(() => cancelRecord(tx, ctx.principal.tenantId, id, when, new Date()));
    await writeAudit(tx, { ...auditActor(ctx), action: 'subscription.cancel', resourceType: 'subscription', resourceId: id, details: { when, endsAt: row.endsAt?.toISOString() ?? null } });
    return getSubscription(ctx, id, tx);
  });
}
