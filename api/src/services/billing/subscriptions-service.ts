import type { PlanChange } from '@keelson/activities/billing/plan-changes';
import { checkPlanChange, findPlanChange } from '@keelson/activities/billing/plan-changes';
import { cancelSubscription as cancelRecord, createSubscription as createRecord } from '@keelson/activities/billing/subscriptions';
import { BillingOperation, resourceRef, SubscriptionUpdate, WorkflowId, WorkflowType } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { writeAudit, type Executor } from '@keelson/db';
import { containers, customers, guests, plans, products, serviceSuspensions, subscriptions, type BillingCycle, type GuestState, type SubscriptionStatus } from '@keelson/db/schema';
import { WithStartWorkflowOperation, WorkflowUpdateFailedError, type Workflow } from '@temporalio/client';
import { and, desc, eq, sql, type SQL } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError, ValidationError } from '../../errors';
import { nowOf } from '../../deps';
import { auditActor, type ServiceContext } from '../context';
import { customerResource, customerScope } from '../customer-scope';
import { ledgerCall } from './ledger-errors';

type Row = { sub: typeof subscriptions.$inferSelect; planName: string; productName: string; customerName: string; heldFor: string[] | null; serviceState: string | null };

/**
 * The reasons holding the subscription's service while it is stopped for them (decision 0027):
 * empty when it runs. A service stopped for a hold already lifted (coming back) shows no reason.
 */
const heldFor = sql<string[] | null>`(
  select array_agg(distinct s.reason::text order by s.reason::text) from ${serviceSuspensions} s
  where s.tenant_id = ${subscriptions.tenantId} and s.resource = ${subscriptions.resource}
    and s.suspended_at is not null and s.lifted_at is null)`;

/**
 * The power state of the subscription's VM or container as its workflows last recorded it (a VM's
 * power run writes it after Proxmox's task finished), in the words the portal uses for every
 * service. Apps have no power state of their own: null.
 */
const serviceState = sql<string | null>`(case split_part(${subscriptions.resource}, ':', 1)
  when 'proxmox-guest' then (select g.state::text from ${guests} g where g.tenant_id = ${subscriptions.tenantId} and g.id::text = split_part(${subscriptions.resource}, ':', 2))
  when 'container' then (select case c.state when 'creating' then 'provisioning' when 'removing' then 'destroyed' when 'removed' then 'destroyed' else c.state::text end
    from ${containers} c where c.tenant_id = ${subscriptions.tenantId} and c.id::text = split_part(${subscriptions.resource}, ':', 2))
  end)`;

export function presentSubscription({ sub, planName, productName, customerName, heldFor, serviceState }: Row) {
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
    /** The service is suspended, and why (`overdue`, `staff`, `kyc`). */
    suspended: (heldFor ?? []).length > 0,
    suspensionReasons: heldFor ?? [],
    serviceState: serviceState as GuestState | null,
    createdAt: sub.createdAt.toISOString(),
  };
}

function query(db: Executor, ctx: ServiceContext, ...more: Array<SQL | undefined>) {
  const scope = customerScope(ctx);
  return db
    .select({ sub: subscriptions, planName: plans.name, productName: products.name, customerName: customers.name, heldFor, serviceState })
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
      createRecord(tx, { tenantId: ctx.principal.tenantId, customerId: input.customerId, planId: input.planId, cycle: input.cycle, quantity: input.quantity, startAt: input.startAt ? new Date(input.startAt) : nowOf(ctx.deps), status: 'active' }),
    );
    await writeAudit(tx, { ...auditActor(ctx), action: 'subscription.create', resourceType: 'subscription', resourceId: row.id, details: { customerId: row.customerId, planId: row.planId, cycle: row.cycle, unitPriceMinor: row.unitPriceMinor, currency: row.currency } });
    return getSubscription(ctx, row.id, tx);
  });
}

export async function cancelSubscription(ctx: ServiceContext, id: string, when: 'now' | 'period_end') {
  return ctx.deps.db.transaction(async (tx) => {
    await getSubscription(ctx, id, tx);
    const row = await ledgerCall(() => cancelRecord(tx, ctx.principal.tenantId, id, when, nowOf(ctx.deps)));
    await writeAudit(tx, { ...auditActor(ctx), action: 'subscription.cancel', resourceType: 'subscription', resourceId: id, details: { when, endsAt: row.endsAt?.toISOString() ?? null } });
    return getSubscription(ctx, id, tx);
  });
}

/**
 * Changes a subscription's plan now, prorated: an Update of the subscription's run
 * (`subscription/<id>`, started by this Update if it is not running). The checks run here first
 * so that bad input is a 400 naming the problem; the run's validator and the change itself check
 * again. `requestId` is the change's business key: repeating a request repeats its answer.
 */
export async function changeSubscriptionPlan(ctx: ServiceContext, id: string, input: { planId: string; requestId?: string }): Promise<PlanChange> {
  await getSubscription(ctx, id);
  const { tenantId, actor } = ctx.principal;
  const requestId = input.requestId ?? randomUUID();
  const made = await findPlanChange(ctx.deps.db, tenantId, id, requestId);
  if (made) return made;
  const { sub, to } = await ledgerCall(() => checkPlanChange(ctx.deps.db, tenantId, id, input.planId));
  const workflowId = WorkflowId.subscription(id);
  const start = new WithStartWorkflowOperation(WorkflowType.subscription, {
    workflowId,
    taskQueue: ctx.deps.config.coreTaskQueue,
    args: [{ tenantId, actor, subscriptionId: id, customerId: sub.customerId }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: runSearchAttributes({ tenantId, operation: BillingOperation.subscription, resources: [resourceRef('subscription', id), customerResource(sub.customerId)], actor }),
  });
  let change: PlanChange;
  try {
    change = await ctx.deps.temporal.workflow.executeUpdateWithStart<Workflow, PlanChange, [unknown]>(SubscriptionUpdate.changePlan, {
      args: [{ planId: input.planId, currency: to.plan.currency, provisions: to.plan.provisioning.kind, requestId }],
      updateId: requestId,
      startWorkflowOperation: start,
    });
  } catch (err) {
    if (!(err instanceof WorkflowUpdateFailedError)) throw err;
    const cause = err.cause as { type?: string; message?: string } | undefined;
    const message = cause?.message ?? err.message;
    throw cause?.type === 'BillingConflict' || cause?.type === 'BillingNotFound' ? new ConflictError(message) : new ValidationError(message);
  }
  await writeAudit(ctx.deps.db, {
    ...auditActor(ctx),
    action: 'subscription.change_plan',
    resourceType: 'subscription',
    resourceId: id,
    details: { changeId: change.id, fromPlanId: change.fromPlanId, toPlanId: change.toPlanId, creditMinor: change.creditMinor, chargeMinor: change.chargeMinor, invoiceId: change.invoiceId, creditNoteId: change.creditNoteId },
  });
  return change;
}
