import { ApprovalUpdate } from '@keelson/common/approval';
import { resourceRef, WorkflowId, WorkflowType } from '@keelson/common/constants';
import { writeAudit, type Executor } from '@keelson/db';
import {
  CONTAINER_STATES,
  apps,
  containers,
  customers,
  guests,
  numberCounters,
  orders,
  planPrices,
  plans,
  products,
  quotes,
  releases,
  subscriptions,
  type BillingCycle,
  type GuestState,
  type OrderServiceOptions,
  type OrderStatus,
  type Provisioning,
  type QuoteLine,
} from '@keelson/db/schema';
import { and, desc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError, ValidationError } from '../../errors';
import { nowOf } from '../../deps';
import { auditActor, type ServiceContext } from '../context';
import { customerResource, customerScope } from '../customer-scope';
import { cancelRun, startWorkflowRun, updateRun, type StartedRun } from '../runs-service';
import { openCase } from '../kyc/kyc-service';
import { requireCustomer } from './customers-service';

type OrderRow = typeof orders.$inferSelect;

const invalid = (path: string, message: string) => new ValidationError(path ? `${path}: ${message}` : message, { issues: [{ path, message }] });

/**
 * The next readable number of a kind (`O-2026-0012`, `Q-2026-0007`) per organization, from the
 * same counters invoices use (own series names), locked for the transaction.
 */
export async function nextReference(tx: Executor, tenantId: string, prefix: 'O' | 'Q', now = new Date()): Promise<string> {
  const year = now.getUTCFullYear();
  const series = `${prefix === 'O' ? 'order' : 'quote'}-${year}`;
  const [row] = await tx
    .insert(numberCounters)
    .values({ tenantId, series, last: 1 })
    .onConflictDoUpdate({ target: [numberCounters.tenantId, numberCounters.series], set: { last: sql`${numberCounters.last} + 1` } })
    .returning({ last: numberCounters.last });
  return `${prefix}-${year}-${String(row!.last).padStart(4, '0')}`;
}

/** The calendar date of `at` in `timeZone` (`2026-03-31`). */
function localDate(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

/** An order as the API shows it: names of what it points at, and its service's state now. */
async function present(db: Executor, rows: OrderRow[]) {
  if (!rows.length) return [];
  const planRows = await db
    .select({ id: plans.id, name: plans.name, productName: products.name, provisioning: plans.provisioning })
    .from(plans)
    .innerJoin(products, eq(products.id, plans.productId))
    .where(inArray(plans.id, [...new Set(rows.map((r) => r.planId))]));
  const customerRows = await db.select({ id: customers.id, name: customers.name }).from(customers).where(inArray(customers.id, [...new Set(rows.map((r) => r.customerId))]));
  const ids = (kind: 'guest' | 'container' | 'app') => rows.flatMap((r) => (r.resource?.kind === kind ? [r.resource.id] : []));
  const guestIds = ids('guest');
  const containerIds = ids('container');
  const appIds = ids('app');
  const guestRows = guestIds.length ? await db.select({ id: guests.id, name: guests.name, state: guests.state, ip: guests.ip }).from(guests).where(inArray(guests.id, guestIds)) : [];
  const containerRows = containerIds.length ? await db.select({ id: containers.id, name: containers.name, state: containers.state, spec: containers.spec }).from(containers).where(inArray(containers.id, containerIds)) : [];
  const appRows = appIds.length ? await db.select({ id: apps.id, name: apps.name, hostname: apps.hostname, currentReleaseId: apps.currentReleaseId }).from(apps).where(inArray(apps.id, appIds)) : [];
  const releaseIds = rows.flatMap((r) => (r.resource?.releaseId ? [r.resource.releaseId] : []));
  const releaseRows = releaseIds.length ? await db.select({ id: releases.id, status: releases.status }).from(releases).where(inArray(releases.id, releaseIds)) : [];

  /** What the order made, as the portal shows it: its name, its state in a VM's words, where it answers. */
  function service(resource: NonNullable<OrderRow['resource']>) {
    const base = { kind: resource.kind, id: resource.id };
    if (resource.kind === 'guest') {
      const g = guestRows.find((x) => x.id === resource.id);
      return { ...base, name: g?.name ?? null, state: g?.state ?? null, ip: g?.ip ?? null, address: g?.ip ?? null };
    }
    if (resource.kind === 'container') {
      const c = containerRows.find((x) => x.id === resource.id);
      const ports = c?.spec.ports.map((p) => `:${p.host}`).join(' ') || null;
      return { ...base, name: c?.name ?? null, state: c ? CONTAINER_AS_SERVICE[c.state] : null, ip: null, address: ports };
    }
    const a = appRows.find((x) => x.id === resource.id);
    const release = releaseRows.find((x) => x.id === resource.releaseId);
    const state: GuestState = !a ? 'destroyed' : a.currentReleaseId ? 'running' : release && FAILED_RELEASE.includes(release.status) ? 'failed' : 'provisioning';
    return { ...base, name: a?.name ?? null, state, ip: null, address: a?.hostname ?? null };
  }

  return rows.map((o) => {
    const plan = planRows.find((p) => p.id === o.planId);
    return {
      id: o.id,
      reference: o.reference,
      customer: { id: o.customerId, name: customerRows.find((c) => c.id === o.customerId)?.name ?? '' },
      plan: { id: o.planId, name: plan?.name ?? '', productName: plan?.productName ?? '', provisions: plan?.provisioning.kind ?? 'service' },
      quoteId: o.quoteId,
      cycle: o.cycle,
      priceMinor: o.priceMinor,
      currency: o.currency,
      oneOffLines: o.oneOffLines,
      onAccount: o.onAccount,
      status: o.status,
      subscriptionId: o.subscriptionId,
      invoiceId: o.invoiceId,
      creditNoteId: o.creditNoteId,
      service: o.resource ? service(o.resource) : null,
      lastError: o.lastError,
      workflowId: o.workflowId,
      decidedBy: o.decidedBy,
      createdAt: o.createdAt.toISOString(),
      updatedAt: o.updatedAt.toISOString(),
    };
  });
}

/** A container's state in the words the portal uses for every service. */
const CONTAINER_AS_SERVICE: Record<(typeof CONTAINER_STATES)[number], GuestState> = { creating: 'provisioning', running: 'running', stopped: 'stopped', failed: 'failed', removing: 'destroyed', removed: 'destroyed' };
/** Release outcomes after which an app that never served will not serve. */
const FAILED_RELEASE: string[] = ['failed', 'rolled_back', 'canceled', 'superseded'];

/** The tenant clause, plus the customer's own for a customer user: every order query starts here. */
function visible(ctx: ServiceContext, ...more: Array<SQL | undefined>) {
  const scope = customerScope(ctx);
  return and(eq(orders.tenantId, ctx.principal.tenantId), scope ? eq(orders.customerId, scope) : undefined, ...more);
}

export async function listOrders(ctx: ServiceContext, filter: { status?: OrderStatus; customerId?: string }) {
  const rows = await ctx.deps.db
    .select()
    .from(orders)
    .where(visible(ctx, filter.status ? eq(orders.status, filter.status) : undefined, filter.customerId ? eq(orders.customerId, filter.customerId) : undefined))
    .orderBy(desc(orders.createdAt))
    .limit(500);
  return present(ctx.deps.db, rows);
}

async function requireOrder(ctx: ServiceContext, id: string): Promise<OrderRow> {
  const [row] = await ctx.deps.db.select().from(orders).where(visible(ctx, eq(orders.id, id)));
  if (!row) throw new NotFoundError('order');
  return row;
}

export async function getOrder(ctx: ServiceContext, id: string) {
  return (await present(ctx.deps.db, [await requireOrder(ctx, id)]))[0]!;
}

export interface PlaceOrderInput extends OrderServiceOptions {
  customerId?: string;
  planId: string;
  cycle: BillingCycle;
}

/** What an order is placed from: the plan at its list price, or an accepted quote's lines. */
interface OrderTerms {
  customerId: string;
  planId: string;
  cycle: BillingCycle;
  /** Set for a quote: its price for the plan line and its other lines. */
  quote?: { id: string; priceMinor: number; oneOffLines: QuoteLine[]; currency: string };
  options: OrderServiceOptions;
  /** Goes through acceptance without staff: an accepted quote, or staff ordering for a customer. */
  onAccount: boolean;
}

/** A customer user orders for their own customer; staff name the customer. */
export async function placeOrder(ctx: ServiceContext, input: PlaceOrderInput) {
  const scope = customerScope(ctx);
  const customerId = scope ?? input.customerId;
  if (!customerId) throw invalid('customerId', 'name the customer the order is for');
  const { customerId: _c, planId, cycle, ...options } = input;
  return createOrder(ctx, { customerId, planId, cycle, options, onAccount: scope === null });
}

/**
 * Records the order and its pending subscription and starts its run (`order/<id>`), in one
 * transaction: if Temporal refuses the start, nothing remains.
 */
export async function createOrder(ctx: ServiceContext, terms: OrderTerms, tx0?: Executor): Promise<{ order: Awaited<ReturnType<typeof getOrder>>; run: StartedRun }> {
  const run = async (tx: Executor) => {
    const customer = await requireCustomer(ctx, terms.customerId, tx).catch(() => {
      throw invalid('customerId', 'no such customer in this organization');
    });
    const [plan] = await tx
      .select({ plan: plans, productActive: products.active, productName: products.name, requiresKyc: products.requiresKyc })
      .from(plans)
      .innerJoin(products, eq(products.id, plans.productId))
      .where(and(eq(plans.tenantId, ctx.principal.tenantId), eq(plans.id, terms.planId)));
    if (!plan || (!terms.quote && (!plan.plan.active || !plan.productActive))) throw invalid('planId', 'no such plan that can be ordered');
    const currency = terms.quote?.currency ?? plan.plan.currency;
    if (currency !== customer.currency) throw invalid('planId', `the plan is priced in ${currency}; ${customer.name} is billed in ${customer.currency}`);
    let priceMinor = terms.quote?.priceMinor;
    if (priceMinor === undefined) {
      const [price] = await tx.select().from(planPrices).where(and(eq(planPrices.planId, plan.plan.id), eq(planPrices.cycle, terms.cycle)));
      if (!price) throw invalid('cycle', `the plan is not sold ${terms.cycle}`);
      priceMinor = price.amountMinor;
    }
    const kind = plan.plan.provisioning.kind;
    if ((kind === 'proxmox_vm' || kind === 'proxmox_lxc') && !terms.options.sshKeys?.length) {
      throw invalid('sshKeys', 'at least one SSH public key, or nobody can log in to the server');
    }
    await checkServiceNames(tx, ctx.principal.tenantId, plan.plan.provisioning, terms.options);
    if (terms.options.hostname && kind.startsWith('proxmox_')) {
      const clusterId = (plan.plan.provisioning as { clusterId: string }).clusterId;
      const [taken] = await tx
        .select({ id: guests.id })
        .from(guests)
        .where(and(eq(guests.tenantId, ctx.principal.tenantId), eq(guests.clusterId, clusterId), eq(guests.name, terms.options.hostname), sql`${guests.state} not in ('failed', 'destroyed')`));
      if (taken) throw invalid('hostname', `"${terms.options.hostname}" is taken; choose another name`);
    }

    const tenantId = ctx.principal.tenantId;
    const id = randomUUID();
    // The pending subscription is anchored on the day it is ordered (the order's run moves the
    // anchor to the day its trial ends, if the plan has one).
    const now = nowOf(ctx.deps);
    const reference = await nextReference(tx, tenantId, 'O', now);
    const setupLines: QuoteLine[] = !terms.quote && plan.plan.setupFeeMinor > 0 ? [{ description: `Setup: ${plan.productName} · ${plan.plan.name}`, quantity: 1, unitAmountMinor: plan.plan.setupFeeMinor }] : [];
    const [subscription] = await tx
      .insert(subscriptions)
      .values({
        tenantId,
        customerId: customer.id,
        planId: plan.plan.id,
        cycle: terms.cycle,
        status: 'pending',
        unitPriceMinor: priceMinor,
        currency,
        timeZone: customer.timeZone,
        anchorDate: localDate(now, customer.timeZone),
        nextPeriodStart: now,
        orderId: id,
      })
      .returning({ id: subscriptions.id });
    const [row] = await tx
      .insert(orders)
      .values({
        id,
        tenantId,
        customerId: customer.id,
        reference,
        planId: plan.plan.id,
        quoteId: terms.quote?.id ?? null,
        cycle: terms.cycle,
        priceMinor,
        currency,
        oneOffLines: terms.quote?.oneOffLines ?? setupLines,
        serviceOptions: terms.options,
        onAccount: terms.onAccount,
        subscriptionId: subscription!.id,
        workflowId: WorkflowId.order(id),
        placedBy: ctx.principal.userId ?? ctx.principal.onBehalfOf ?? null,
      })
      .onConflictDoNothing()
      .returning();
    if (!row) throw new ConflictError('this quote has already been accepted');
    await writeAudit(tx, {
      ...auditActor(ctx),
      action: 'order.place',
      resourceType: 'order',
      resourceId: id,
      details: { reference, customerId: customer.id, planId: plan.plan.id, cycle: terms.cycle, priceMinor, currency, quoteId: terms.quote?.id ?? null },
    });
    const started = await startWorkflowRun(
      ctx,
      {
        operation: 'order.fulfil',
        workflowType: WorkflowType.order,
        workflowId: WorkflowId.order(id),
        input: { orderId: id, ...(plan.requiresKyc && ctx.deps.config.orderKycTimeoutMs ? { kycTimeoutMs: ctx.deps.config.orderKycTimeoutMs } : {}) },
        resources: [resourceRef('order', id), customerResource(customer.id), resourceRef('plan', plan.plan.id)],
      },
      tx,
    );
    return { row, run: started, requiresKyc: plan.requiresKyc };
  };
  const { row, run: started, requiresKyc } = tx0 ? await run(tx0) : await ctx.deps.db.transaction(run);
  if (requiresKyc) await askForKyc(ctx, row.customerId);
  return { order: (await present(ctx.deps.db, [row]))[0]!, run: started };
}

/**
 * The names a container or app order asks for must be free (a 400 naming the field), and an app
 * needs the domain it is served under. The order's run checks again when it records the service.
 */
async function checkServiceNames(tx: Executor, tenantId: string, provisioning: Provisioning, options: OrderServiceOptions) {
  if (provisioning.kind === 'container' && options.hostname) {
    const [taken] = await tx.select({ id: containers.id }).from(containers).where(and(eq(containers.tenantId, tenantId), eq(containers.name, options.hostname)));
    if (taken) throw invalid('hostname', `"${options.hostname}" is taken; choose another name`);
  }
  if (provisioning.kind !== 'app') return;
  if (!options.domain) throw invalid('domain', 'an app plan needs the DNS name the app is served under');
  // Domains are unique across organizations (the edge proxy routes by them).
  const [served] = await tx.select({ id: apps.id }).from(apps).where(eq(apps.hostname, options.domain));
  if (served) throw invalid('domain', `${options.domain} is already served; choose another`);
  if (options.hostname) {
    const [taken] = await tx.select({ id: apps.id }).from(apps).where(and(eq(apps.tenantId, tenantId), eq(apps.name, options.hostname)));
    if (taken) throw invalid('hostname', `"${options.hostname}" is taken; choose another name`);
  }
}

/**
 * An order of a product that requires KYC waits for the customer's approval (its run reads the
 * case): open the customer's case, or join the running one, so they are asked for documents. A
 * case that cannot be opened (rejected for good: staff must reopen it) leaves the order to time out.
 */
async function askForKyc(ctx: ServiceContext, customerId: string) {
  try {
    await openCase(ctx, customerId, {});
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
  }
}

/** Staff accept or reject an order waiting for acceptance: the answer goes to its run. */
export async function decideOrder(ctx: ServiceContext, id: string, decision: 'accept' | 'reject', comment?: string) {
  const o = await requireOrder(ctx, id);
  if (o.status !== 'awaiting_acceptance') throw new ConflictError(`order ${o.reference} is ${o.status.replace('_', ' ')}, not waiting for acceptance`);
  const by = ctx.principal.actor;
  await updateRun(ctx, o.workflowId, decision === 'accept' ? ApprovalUpdate.approve : ApprovalUpdate.reject, [{ by, ...(comment ? { comment } : {}) }], undefined, {
    action: `order.${decision}`,
    details: { orderId: o.id, comment: comment ?? null },
  });
  await ctx.deps.db.update(orders).set({ decidedBy: by, updatedAt: sql`now()` }).where(eq(orders.id, o.id));
  return getOrder(ctx, id);
}

/** Cancels an order still on its way: its run undoes what provisioning made and credits the invoice. */
export async function cancelOrder(ctx: ServiceContext, id: string) {
  const o = await requireOrder(ctx, id);
  if (!['placed', 'awaiting_kyc', 'awaiting_acceptance', 'provisioning'].includes(o.status)) throw new ConflictError(`order ${o.reference} is ${o.status}; only orders on their way can be cancelled`);
  await cancelRun(ctx, o.workflowId);
  return getOrder(ctx, id);
}

/** Quotes a customer accepted become orders through here (see quotes-service). */
export async function orderFromQuote(ctx: ServiceContext, tx: Executor, quote: typeof quotes.$inferSelect, options: OrderServiceOptions) {
  const planLine = quote.lines.find((l) => l.planId)!;
  return createOrder(
    ctx,
    {
      customerId: quote.customerId,
      planId: planLine.planId!,
      cycle: quote.cycle,
      quote: { id: quote.id, priceMinor: planLine.unitAmountMinor, oneOffLines: quote.lines.filter((l) => !l.planId), currency: quote.currency },
      options,
      onAccount: true,
    },
    tx,
  );
}
