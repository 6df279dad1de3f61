import type { Executor } from '@keelson/db';
import { customers, invoiceLines, invoices, planPrices, plans, products, subscriptions, taxRules, type BillingCycle, type LineKind } from '@keelson/db/schema';
import { and, asc, eq, gt, inArray, lte, sql } from 'drizzle-orm';
import { DateTime } from 'luxon';
import { LedgerError, lineAmounts, sumLines } from './ledger';
import { localDate, periodAt } from './periods';

/** The invoice key of a subscription period: the business key the billing run never repeats. */
export const periodInvoiceKey = (subscriptionId: string, periodStart: Date) => `invoice/${subscriptionId}/${periodStart.toISOString()}`;

export interface NewSubscription {
  tenantId: string;
  customerId: string;
  planId: string;
  cycle: BillingCycle;
  quantity?: number;
  /** When service starts; periods are counted from its local date in the customer's zone. */
  startAt: Date;
  /** `pending` while an order runs; `active` (or `trialing`, from the plan) otherwise. */
  status: 'pending' | 'active';
  orderId?: string | null;
}

/**
 * Creates a subscription at the plan's current price for the cycle. A plan with trial days
 * starts its first paid period when the trial ends; periods are anchored on that local date.
 */
export async function createSubscription(db: Executor, input: NewSubscription) {
  const [customer] = await db.select().from(customers).where(and(eq(customers.tenantId, input.tenantId), eq(customers.id, input.customerId)));
  if (!customer) throw new LedgerError('not_found', 'customer not found');
  const [plan] = await db
    .select({ plan: plans, productActive: products.active })
    .from(plans)
    .innerJoin(products, eq(products.id, plans.productId))
    .where(and(eq(plans.tenantId, input.tenantId), eq(plans.id, input.planId)));
  if (!plan) throw new LedgerError('not_found', 'plan not found');
  if (!plan.plan.active || !plan.productActive) throw new LedgerError('invalid', 'planId: the plan is not active');
  const [price] = await db.select().from(planPrices).where(and(eq(planPrices.planId, input.planId), eq(planPrices.cycle, input.cycle)));
  if (!price) throw new LedgerError('invalid', `cycle: the plan is not sold ${input.cycle}`);
  if (plan.plan.currency !== customer.currency) throw new LedgerError('invalid', `planId: the plan is priced in ${plan.plan.currency}, the customer pays in ${customer.currency}`);
  const zone = customer.timeZone;
  const trialEndsAt = plan.plan.trialDays > 0 ? DateTime.fromJSDate(input.startAt, { zone }).plus({ days: plan.plan.trialDays }).toJSDate() : null;
  const anchorDate = localDate(trialEndsAt ?? input.startAt, zone);
  const first = periodAt(anchorDate, input.cycle, zone, 0);
  const status = input.status === 'pending' ? 'pending' : trialEndsAt ? 'trialing' : 'active';
  const [row] = await db
    .insert(subscriptions)
    .values({
      tenantId: input.tenantId,
      customerId: input.customerId,
      planId: input.planId,
      cycle: input.cycle,
      status,
      quantity: input.quantity ?? 1,
      unitPriceMinor: price.amountMinor,
      currency: plan.plan.currency,
      timeZone: zone,
      anchorDate,
      trialEndsAt,
      nextPeriodIndex: 0,
      nextPeriodStart: first.start,
      orderId: input.orderId ?? null,
    })
    .returning();
  return row!;
}

/** A pending subscription (its order went through) starts: active, or trialing while its trial lasts at `now`. */
export async function activateSubscription(db: Executor, tenantId: string, subscriptionId: string, resource: string | null, now: Date) {
  const [row] = await db
    .update(subscriptions)
    .set({ status: sql`case when ${subscriptions.trialEndsAt} is not null and ${subscriptions.trialEndsAt} > ${now.toISOString()}::timestamptz then 'trialing'::subscription_status else 'active'::subscription_status end`, resource, updatedAt: sql`now()` })
    .where(and(eq(subscriptions.tenantId, tenantId), eq(subscriptions.id, subscriptionId), inArray(subscriptions.status, ['pending', 'active', 'trialing'])))
    .returning();
  if (!row) throw new LedgerError('conflict', 'only a pending subscription can be activated');
  return row;
}

/**
 * Trials over by `now` are over: their subscriptions become `active` (the billing run does this
 * first, at its clock). Returns the subscriptions that changed.
 */
export async function endTrials(db: Executor, tenantId: string, now: Date): Promise<string[]> {
  const rows = await db
    .update(subscriptions)
    .set({ status: 'active', updatedAt: sql`now()` })
    .where(and(eq(subscriptions.tenantId, tenantId), eq(subscriptions.status, 'trialing'), lte(subscriptions.trialEndsAt, now)))
    .returning({ id: subscriptions.id });
  return rows.map((r) => r.id);
}

/**
 * Cancels now (nothing more is invoiced; service ends now) or at the end of the period already
 * invoiced (the billing run ends it there instead of invoicing the next one).
 */
export async function cancelSubscription(db: Executor, tenantId: string, subscriptionId: string, when: 'now' | 'period_end', now: Date) {
  const [sub] = await db.select().from(subscriptions).where(and(eq(subscriptions.tenantId, tenantId), eq(subscriptions.id, subscriptionId)));
  if (!sub) throw new LedgerError('not_found', 'subscription not found');
  if (sub.status === 'cancelled') throw new LedgerError('conflict', 'the subscription is already cancelled');
  const endsAt = when === 'now' || !sub.currentPeriodEnd || sub.currentPeriodEnd <= now ? now : sub.currentPeriodEnd;
  const immediate = endsAt.getTime() === now.getTime();
  const [row] = await db
    .update(subscriptions)
    .set(immediate ? { status: 'cancelled', cancelledAt: now, endsAt, cancelAtPeriodEnd: false, updatedAt: sql`now()` } : { cancelAtPeriodEnd: true, cancelledAt: now, endsAt, updatedAt: sql`now()` })
    .where(and(eq(subscriptions.tenantId, tenantId), eq(subscriptions.id, subscriptionId)))
    .returning();
  return row!;
}

export interface DueSubscription {
  subscriptionId: string;
  customerId: string;
  periodIndex: number;
  periodStart: string;
}

/**
 * Subscriptions of an organization with a period starting before `horizon` that is not invoiced
 * yet (trialing and active ones), oldest first, `limit` at a time after `after` (a subscription
 * id, for paging).
 */
export async function findDueSubscriptions(db: Executor, tenantId: string, horizon: Date, limit: number, after?: string): Promise<DueSubscription[]> {
  const rows = await db
    .select({ id: subscriptions.id, customerId: subscriptions.customerId, index: subscriptions.nextPeriodIndex, start: subscriptions.nextPeriodStart })
    .from(subscriptions)
    .where(
      and(
        eq(subscriptions.tenantId, tenantId),
        inArray(subscriptions.status, ['trialing', 'active']),
        lte(subscriptions.nextPeriodStart, horizon),
        after ? gt(subscriptions.id, after) : undefined,
      ),
    )
    .orderBy(asc(subscriptions.id))
    .limit(limit);
  return rows.map((r) => ({ subscriptionId: r.id, customerId: r.customerId, periodIndex: r.index, periodStart: r.start.toISOString() }));
}

export interface DraftedPeriod {
  subscriptionId: string;
  periodStart: string;
  invoiceId: string | null;
  /** What happened: a draft written now, one written before (a retry), or the subscription ended. */
  outcome: 'drafted' | 'existing' | 'ended' | 'skipped';
}

/**
 * Writes the draft invoice of each subscription's next period and moves the subscription past
 * it, in one transaction for the whole batch and a handful of statements (not one per
 * subscription). The move is conditional on the period index the caller saw, and takes each
 * subscription's row lock: a concurrent run that saw the same period waits, then finds it moved
 * and writes nothing. The invoice's key (`invoice/<subscription>/<period start>`) and the
 * unique (subscription, period start) index are the second guard. A subscription cancelled at
 * period end ends instead of being invoiced.
 */
export async function draftPeriodInvoices(db: Executor, tenantId: string, due: DueSubscription[], opts: { setupFeeOnFirst?: boolean; includePending?: boolean } = {}): Promise<DraftedPeriod[]> {
  if (!due.length) return [];
  return db.transaction(async (tx) => {
    // Lock and read them in one statement; the ones moved on already are skipped.
    const ids = due.map((d) => d.subscriptionId);
    const subs = await tx
      .select({ sub: subscriptions, plan: plans, productName: products.name })
      .from(subscriptions)
      .innerJoin(plans, eq(plans.id, subscriptions.planId))
      .innerJoin(products, eq(products.id, plans.productId))
      .where(and(eq(subscriptions.tenantId, tenantId), inArray(subscriptions.id, ids)))
      .orderBy(asc(subscriptions.id))
      .for('update', { of: subscriptions });
    const expected = new Map(due.map((d) => [d.subscriptionId, d.periodIndex]));
    const out: DraftedPeriod[] = [];
    const work: Array<{ sub: typeof subscriptions.$inferSelect; plan: typeof plans.$inferSelect; productName: string; start: Date; end: Date; key: string }> = [];
    const ended: string[] = [];
    for (const { sub, plan, productName } of subs) {
      const period = periodAt(sub.anchorDate, sub.cycle, sub.timeZone, sub.nextPeriodIndex);
      const billable = ['trialing', 'active', ...(opts.includePending ? ['pending'] : [])];
      if (sub.nextPeriodIndex !== expected.get(sub.id) || !billable.includes(sub.status)) {
        out.push({ subscriptionId: sub.id, periodStart: period.start.toISOString(), invoiceId: null, outcome: 'skipped' });
        continue;
      }
      if (sub.cancelAtPeriodEnd && sub.endsAt && period.start >= sub.endsAt) {
        ended.push(sub.id);
        out.push({ subscriptionId: sub.id, periodStart: period.start.toISOString(), invoiceId: null, outcome: 'ended' });
        continue;
      }
      work.push({ sub, plan, productName, start: period.start, end: period.end, key: periodInvoiceKey(sub.id, period.start) });
    }
    if (ended.length) {
      await tx.update(subscriptions).set({ status: 'cancelled', updatedAt: sql`now()` }).where(and(eq(subscriptions.tenantId, tenantId), inArray(subscriptions.id, ended)));
    }
    // A subscription already past the period the caller saw may have moved on in an earlier
    // attempt of this very call (committed, then the worker died before answering): the draft
    // written then is this period's, and the caller must still finalize it.
    const skipped = out.filter((o) => o.outcome === 'skipped');
    if (skipped.length) {
      const keys = due.filter((d) => skipped.some((o) => o.subscriptionId === d.subscriptionId)).map((d) => periodInvoiceKey(d.subscriptionId, new Date(d.periodStart)));
      const found = await tx.select({ id: invoices.id, subscriptionId: invoices.subscriptionId, periodStart: invoices.periodStart }).from(invoices).where(and(eq(invoices.tenantId, tenantId), inArray(invoices.key, keys)));
      for (const f of found) {
        const i = out.findIndex((o) => o.outcome === 'skipped' && o.subscriptionId === f.subscriptionId);
        if (i >= 0) out[i] = { subscriptionId: f.subscriptionId!, periodStart: f.periodStart!.toISOString(), invoiceId: f.id, outcome: 'existing' };
      }
    }
    if (!work.length) return out;

    // Tax per customer, from one read of the customers and one of the rules.
    const customerRows = await tx.select().from(customers).where(and(eq(customers.tenantId, tenantId), inArray(customers.id, [...new Set(work.map((w) => w.sub.customerId))])));
    const rules = await tx.select().from(taxRules).where(eq(taxRules.tenantId, tenantId));
    const taxOf = new Map(
      customerRows.map((c) => {
        const rule = rules.find((r) => r.country === c.country) ?? rules.find((r) => r.country === null);
        const reverse = Boolean(rule?.reverseCharge && c.kind === 'company' && c.taxIdValid);
        return [c.id, { rateBp: rule && !reverse ? rule.rateBp : 0, reverseCharge: reverse }];
      }),
    );

    const drafts = work.map((w) => {
      const tax = taxOf.get(w.sub.customerId)!;
      const lines: Array<{ kind: LineKind; description: string; quantity: number; unitPriceMinor: number; periodStart: Date | null; periodEnd: Date | null }> = [
        { kind: 'plan', description: `${w.productName} — ${w.plan.name} (${w.sub.cycle})`, quantity: w.sub.quantity, unitPriceMinor: w.sub.unitPriceMinor, periodStart: w.start, periodEnd: w.end },
      ];
      if (opts.setupFeeOnFirst && w.sub.nextPeriodIndex === 0 && w.plan.setupFeeMinor > 0) {
        lines.push({ kind: 'setup', description: `Setup: ${w.productName} — ${w.plan.name}`, quantity: 1, unitPriceMinor: w.plan.setupFeeMinor, periodStart: null, periodEnd: null });
      }
      const priced = lines.map((l, position) => ({ ...l, position, taxRateBp: tax.rateBp, ...lineAmounts(l.quantity, l.unitPriceMinor, tax.rateBp) }));
      return { w, tax, priced, totals: sumLines(priced) };
    });
    const inserted = await tx
      .insert(invoices)
      .values(
        drafts.map(({ w, tax, totals }) => ({
          tenantId,
          customerId: w.sub.customerId,
          subscriptionId: w.sub.id,
          orderId: w.sub.nextPeriodIndex === 0 ? w.sub.orderId : null,
          key: w.key,
          currency: w.sub.currency,
          periodStart: w.start,
          periodEnd: w.end,
          reverseCharge: tax.reverseCharge,
          ...totals,
        })),
      )
      .onConflictDoNothing()
      .returning({ id: invoices.id, subscriptionId: invoices.subscriptionId });
    const idOf = new Map(inserted.map((r) => [r.subscriptionId!, r.id]));
    const lineRows = drafts.flatMap(({ w, priced }) => {
      const invoiceId = idOf.get(w.sub.id);
      return invoiceId ? priced.map((l) => ({ invoiceId, position: l.position, kind: l.kind, description: l.description, quantity: l.quantity, unitPriceMinor: l.unitPriceMinor, taxRateBp: l.taxRateBp, netMinor: l.netMinor, taxMinor: l.taxMinor, totalMinor: l.totalMinor, periodStart: l.periodStart, periodEnd: l.periodEnd })) : [];
    });
    if (lineRows.length) await tx.insert(invoiceLines).values(lineRows);

    // Move every subscription past the period, invoiced now or (a key already there) before.
    await tx.execute(sql`
      update ${subscriptions} as s set
        next_period_index = s.next_period_index + 1, next_period_start = v.next_start,
        current_period_start = v.start, current_period_end = v.next_start, updated_at = now()
      from jsonb_to_recordset(${JSON.stringify(work.map((w) => ({ id: w.sub.id, start: w.start.toISOString(), next_start: w.end.toISOString() })))}::jsonb)
        as v(id uuid, start timestamptz, next_start timestamptz)
      where s.id = v.id and s.tenant_id = ${tenantId}`);

    const missing = work.filter((w) => !idOf.has(w.sub.id));
    const existing = missing.length
      ? await tx
          .select({ id: invoices.id, key: invoices.key })
          .from(invoices)
          .where(and(eq(invoices.tenantId, tenantId), inArray(invoices.key, missing.map((w) => w.key))))
      : [];
    for (const w of work) {
      const id = idOf.get(w.sub.id) ?? existing.find((e) => e.key === w.key)?.id ?? null;
      out.push({ subscriptionId: w.sub.id, periodStart: w.start.toISOString(), invoiceId: id, outcome: idOf.has(w.sub.id) ? 'drafted' : 'existing' });
    }
    return out;
  });
}
