import { writeAudit, type Executor } from '@keelson/db';
import { customers, orders, plans, quotes, type OrderServiceOptions, type QuoteLine, type QuoteStatus } from '@keelson/db/schema';
import { and, desc, eq, inArray, ne, sql, type SQL } from 'drizzle-orm';
import type { QuoteBody } from '../../routes/quotes/schema';
import { ConflictError, NotFoundError, ValidationError } from '../../errors';
import { auditActor, type ServiceContext } from '../context';
import { customerScope } from '../customer-scope';
import { requireCustomer } from './customers-service';
import { nextReference, orderFromQuote } from './orders-service';

type QuoteRow = typeof quotes.$inferSelect;

const invalid = (path: string, message: string) => new ValidationError(path ? `${path}: ${message}` : message, { issues: [{ path, message }] });
const lineTotal = (l: QuoteLine) => l.quantity * l.unitAmountMinor;
const isExpired = (q: QuoteRow, now = Date.now()) => q.status === 'sent' && q.validUntil.getTime() <= now;

async function present(db: Executor, rows: QuoteRow[]) {
  if (!rows.length) return [];
  const names = await db.select({ id: customers.id, name: customers.name }).from(customers).where(inArray(customers.id, [...new Set(rows.map((r) => r.customerId))]));
  const planIds = [...new Set(rows.flatMap((r) => r.lines.flatMap((l) => (l.planId ? [l.planId] : []))))];
  const kinds = planIds.length ? await db.select({ id: plans.id, provisioning: plans.provisioning }).from(plans).where(inArray(plans.id, planIds)) : [];
  const made = await db.select({ id: orders.id, quoteId: orders.quoteId }).from(orders).where(inArray(orders.quoteId, rows.map((r) => r.id)));
  return rows.map((q) => ({
    id: q.id,
    reference: q.reference,
    customer: { id: q.customerId, name: names.find((c) => c.id === q.customerId)?.name ?? '' },
    title: q.title,
    currency: q.currency,
    cycle: q.cycle,
    provisions: kinds.find((k) => k.id === q.lines.find((l) => l.planId)?.planId)?.provisioning.kind ?? 'service',
    lines: q.lines.map((l) => ({ description: l.description, quantity: l.quantity, unitAmountMinor: l.unitAmountMinor, totalMinor: lineTotal(l), planId: l.planId ?? null })),
    totalMinor: q.totalMinor,
    validUntil: q.validUntil.toISOString(),
    notes: q.notes ?? '',
    status: q.status,
    expired: isExpired(q),
    orderId: made.find((o) => o.quoteId === q.id)?.id ?? null,
    sentAt: q.sentAt?.toISOString() ?? null,
    decidedAt: q.decidedAt?.toISOString() ?? null,
    createdAt: q.createdAt.toISOString(),
    updatedAt: q.updatedAt.toISOString(),
  }));
}

/** The tenant clause; a customer user sees their own customer's quotes once sent, never drafts. */
function visible(ctx: ServiceContext, ...more: Array<SQL | undefined>) {
  const scope = customerScope(ctx);
  return and(eq(quotes.tenantId, ctx.principal.tenantId), scope ? and(eq(quotes.customerId, scope), ne(quotes.status, 'draft')) : undefined, ...more);
}

export async function listQuotes(ctx: ServiceContext, filter: { status?: QuoteStatus; customerId?: string }) {
  const rows = await ctx.deps.db
    .select()
    .from(quotes)
    .where(visible(ctx, filter.status ? eq(quotes.status, filter.status) : undefined, filter.customerId ? eq(quotes.customerId, filter.customerId) : undefined))
    .orderBy(desc(quotes.createdAt))
    .limit(500);
  return present(ctx.deps.db, rows);
}

async function requireQuote(ctx: ServiceContext, id: string, db: Executor = ctx.deps.db, lock = false): Promise<QuoteRow> {
  const q = db.select().from(quotes).where(visible(ctx, eq(quotes.id, id)));
  const [row] = lock ? await q.for('update') : await q;
  if (!row) throw new NotFoundError('quote');
  return row;
}

export async function getQuote(ctx: ServiceContext, id: string) {
  return (await present(ctx.deps.db, [await requireQuote(ctx, id)]))[0]!;
}

/** Checks what a quote offers against the customer and catalog; answers the columns to store. */
async function columns(ctx: ServiceContext, db: Executor, body: QuoteBody) {
  const customer = await requireCustomer(ctx, body.customerId, db).catch(() => {
    throw invalid('customerId', 'no such customer in this organization');
  });
  const validUntil = new Date(body.validUntil);
  if (validUntil.getTime() <= Date.now()) throw invalid('validUntil', 'must be in the future');
  const planIndex = body.lines.findIndex((l) => l.planId);
  const [plan] = await db.select().from(plans).where(and(eq(plans.tenantId, ctx.principal.tenantId), eq(plans.id, body.lines[planIndex]!.planId!)));
  if (!plan) throw invalid(`lines.${planIndex}.planId`, 'no such plan in this organization');
  if (plan.currency !== customer.currency) throw invalid(`lines.${planIndex}.planId`, `the plan is priced in ${plan.currency}; ${customer.name} is billed in ${customer.currency}`);
  const lines: QuoteLine[] = body.lines.map((l) => ({ description: l.description, quantity: l.quantity, unitAmountMinor: l.unitAmountMinor, ...(l.planId ? { planId: l.planId } : {}) }));
  const totalMinor = lines.reduce((sum, l) => sum + lineTotal(l), 0);
  if (!Number.isSafeInteger(totalMinor)) throw invalid('lines', 'the total is too large');
  return {
    customerId: customer.id,
    title: body.title,
    currency: customer.currency,
    cycle: body.cycle,
    lines,
    totalMinor,
    validUntil,
    notes: body.notes,
  };
}

export async function createQuote(ctx: ServiceContext, body: QuoteBody) {
  const row = await ctx.deps.db.transaction(async (tx) => {
    const values = await columns(ctx, tx, body);
    const reference = await nextReference(tx, ctx.principal.tenantId, 'Q');
    const [q] = await tx
      .insert(quotes)
      .values({ tenantId: ctx.principal.tenantId, reference, ...values, createdBy: ctx.principal.userId ?? ctx.principal.onBehalfOf ?? null })
      .returning();
    await writeAudit(tx, { ...auditActor(ctx), action: 'quote.create', resourceType: 'quote', resourceId: q!.id, details: { reference, customerId: values.customerId, totalMinor: values.totalMinor } });
    return q!;
  });
  return (await present(ctx.deps.db, [row]))[0]!;
}

/** Only drafts change; a sent quote is what the customer was offered. */
export async function updateQuote(ctx: ServiceContext, id: string, body: QuoteBody) {
  const row = await ctx.deps.db.transaction(async (tx) => {
    const current = await requireQuote(ctx, id, tx, true);
    if (current.status !== 'draft') throw new ConflictError(`quote ${current.reference} is ${current.status}; only drafts can be changed`);
    const values = await columns(ctx, tx, body);
    const [q] = await tx.update(quotes).set({ ...values, updatedAt: sql`now()` }).where(eq(quotes.id, id)).returning();
    await writeAudit(tx, { ...auditActor(ctx), action: 'quote.update', resourceType: 'quote', resourceId: id, details: { totalMinor: values.totalMinor } });
    return q!;
  });
  return (await present(ctx.deps.db, [row]))[0]!;
}

/** Staff move a quote along: send a draft to the customer, or withdraw one not yet decided. */
export async function transitionQuote(ctx: ServiceContext, id: string, action: 'send' | 'withdraw') {
  const row = await ctx.deps.db.transaction(async (tx) => {
    const q = await requireQuote(ctx, id, tx, true);
    if (action === 'send') {
      if (q.status !== 'draft') throw new ConflictError(`quote ${q.reference} is ${q.status}; only drafts are sent`);
      if (q.validUntil.getTime() <= Date.now()) throw invalid('validUntil', 'has passed: change the draft first');
    } else if (q.status !== 'draft' && q.status !== 'sent') throw new ConflictError(`quote ${q.reference} is ${q.status}; it can no longer be withdrawn`);
    const status = action === 'send' ? ('sent' as const) : ('withdrawn' as const);
    const [updated] = await tx
      .update(quotes)
      .set({ status, ...(action === 'send' ? { sentAt: sql`now()` } : { decidedAt: sql`now()` }), updatedAt: sql`now()` })
      .where(eq(quotes.id, id))
      .returning();
    await writeAudit(tx, { ...auditActor(ctx), action: `quote.${action}`, resourceType: 'quote', resourceId: id, details: { reference: q.reference } });
    return updated!;
  });
  return (await present(ctx.deps.db, [row]))[0]!;
}

/**
 * The customer accepts a sent quote: it becomes an order (one, however often this is called)
 * that goes through acceptance on account, since staff wrote the offer.
 */
export async function acceptQuote(ctx: ServiceContext, id: string, options: OrderServiceOptions) {
  return ctx.deps.db.transaction(async (tx) => {
    const q = await requireQuote(ctx, id, tx, true);
    if (q.status === 'accepted') throw new ConflictError(`quote ${q.reference} has already been accepted`);
    if (q.status !== 'sent') throw new ConflictError(`quote ${q.reference} is ${q.status}; only sent quotes can be accepted`);
    if (isExpired(q)) throw new ConflictError(`quote ${q.reference} expired on ${q.validUntil.toISOString().slice(0, 10)}`);
    await tx
      .update(quotes)
      .set({ status: 'accepted', decidedAt: sql`now()`, decidedBy: ctx.principal.userId ?? ctx.principal.onBehalfOf ?? null, updatedAt: sql`now()` })
      .where(eq(quotes.id, id));
    await writeAudit(tx, { ...auditActor(ctx), action: 'quote.accept', resourceType: 'quote', resourceId: id, details: { reference: q.reference } });
    return orderFromQuote(ctx, tx, q, options);
  });
}

export async function declineQuote(ctx: ServiceContext, id: string) {
  const row = await ctx.deps.db.transaction(async (tx) => {
    const q = await requireQuote(ctx, id, tx, true);
    if (q.status !== 'sent') throw new ConflictError(`quote ${q.reference} is ${q.status}; only sent quotes can be declined`);
    const [updated] = await tx
      .update(quotes)
      .set({ status: 'declined', decidedAt: sql`now()`, decidedBy: ctx.principal.userId ?? ctx.principal.onBehalfOf ?? null, updatedAt: sql`now()` })
      .where(eq(quotes.id, id))
      .returning();
    await writeAudit(tx, { ...auditActor(ctx), action: 'quote.decline', resourceType: 'quote', resourceId: id, details: { reference: q.reference } });
    return updated!;
  });
  return (await present(ctx.deps.db, [row]))[0]!;
}
