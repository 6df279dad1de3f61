import type { Executor } from '@keelson/db';
import { creditNotes, invoices, planPrices, plans, products, subscriptionChanges, subscriptions } from '@keelson/db/schema';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { DateTime } from 'luxon';
import { createDraftInvoice, finalizeInvoices, issueCreditNote, LedgerError } from './ledger';
import { periodAt, periodIndexAt, prorate, type Period } from './periods';

/** A plan change as it was made: what was credited and charged, in minor units of the subscription's currency. */
export interface PlanChange {
  id: string;
  subscriptionId: string;
  fromPlanId: string;
  toPlanId: string;
  fromUnitPriceMinor: number;
  toUnitPriceMinor: number;
  currency: string;
  /** The customer's zone: the period and the dates below are theirs. */
  timeZone: string;
  effectiveAt: string;
  /** The invoiced period the change falls in (null: none is invoiced yet, nothing to prorate). */
  periodStart: string | null;
  periodEnd: string | null;
  /** The unused part of the old plan, from `effectiveAt` to the period's end. */
  creditMinor: number;
  /** The new plan for the same time. */
  chargeMinor: number;
  /** `chargeMinor − creditMinor`: invoiced when positive, credited when negative (net of tax). */
  netMinor: number;
  invoiceId: string | null;
  creditNoteId: string | null;
}

/** What a subscription's run needs to judge a change without asking the database. */
export interface SubscriptionFacts {
  planId: string;
  status: string;
  currency: string;
  provisions: string;
}

const invalid = (message: string) => new LedgerError('invalid', message);

/**
 * The checks a plan change must pass, shared by the API (a 400 naming the problem) and the run
 * that makes it: the subscription runs, the plan is another active plan of the same currency
 * that provisions the same kind of service and is sold in the subscription's cycle.
 */
export async function checkPlanChange(db: Executor, tenantId: string, subscriptionId: string, planId: string, opts: { lock?: boolean } = {}) {
  const select = db.select().from(subscriptions).where(and(eq(subscriptions.tenantId, tenantId), eq(subscriptions.id, subscriptionId)));
  const [sub] = opts.lock ? await select.for('update') : await select;
  if (!sub) throw new LedgerError('not_found', 'subscription not found');
  if (sub.status === 'cancelled') throw invalid('the subscription is cancelled; a cancelled subscription keeps its plan');
  if (sub.status === 'pending') throw invalid('the subscription has not started yet (its order is on its way)');
  if (sub.planId === planId) throw invalid('planId: the subscription is already on this plan');
  const rows = await db
    .select({ plan: plans, productActive: products.active, productName: products.name })
    .from(plans)
    .innerJoin(products, eq(products.id, plans.productId))
    .where(and(eq(plans.tenantId, tenantId), inArray(plans.id, [sub.planId, planId])));
  const from = rows.find((r) => r.plan.id === sub.planId)!;
  const to = rows.find((r) => r.plan.id === planId);
  if (!to) throw invalid('planId: no such plan in this organization');
  if (!to.plan.active || !to.productActive) throw invalid('planId: the plan is not active');
  if (to.plan.currency !== sub.currency) throw invalid(`planId: the plan is priced in ${to.plan.currency}; the subscription is billed in ${sub.currency}`);
  if (to.plan.provisioning.kind !== from.plan.provisioning.kind) {
    throw invalid(`planId: the plan provisions ${to.plan.provisioning.kind}, the subscription's plan ${from.plan.provisioning.kind}; change to a plan of the same kind`);
  }
  const [price] = await db.select().from(planPrices).where(and(eq(planPrices.planId, planId), eq(planPrices.cycle, sub.cycle)));
  if (!price) throw invalid(`planId: the plan is not sold ${sub.cycle}`);
  return { sub, from, to, priceMinor: price.amountMinor };
}

/** The facts the subscription's run keeps to validate Updates. */
export async function subscriptionFacts(db: Executor, tenantId: string, subscriptionId: string): Promise<SubscriptionFacts> {
  const [row] = await db
    .select({ planId: subscriptions.planId, status: subscriptions.status, currency: subscriptions.currency, provisioning: plans.provisioning })
    .from(subscriptions)
    .innerJoin(plans, eq(plans.id, subscriptions.planId))
    .where(and(eq(subscriptions.tenantId, tenantId), eq(subscriptions.id, subscriptionId)));
  if (!row) throw new LedgerError('not_found', 'subscription not found');
  return { planId: row.planId, status: row.status, currency: row.currency, provisions: row.provisioning.kind };
}

/** The invoiced period containing `at`, or null (before the first, or not invoiced yet). */
function invoicedPeriodAt(sub: typeof subscriptions.$inferSelect, at: Date): Period | null {
  const index = periodIndexAt(sub.anchorDate, sub.cycle, sub.timeZone, at);
  return index >= 0 && index < sub.nextPeriodIndex ? periodAt(sub.anchorDate, sub.cycle, sub.timeZone, index) : null;
}

/** `2027-07-16`: a day as the customer's calendar shows it. */
const day = (at: Date, zone: string) => DateTime.fromJSDate(at, { zone }).toISODate()!;

/**
 * Changes the subscription's plan at `now`, once per request (`change/<subscription>/<request>`):
 * the unused part of the invoiced period on the old price is credited, the same time on the new
 * price charged (both prorated by the millisecond in the customer's zone, rounded once), and the
 * net is invoiced (a numbered adjustment invoice, key `change/<change>`) or credited against the
 * period's invoice (a credit note, same key) in the same transaction as the change. Later
 * periods are invoiced at the new price.
 */
export async function changePlan(db: Executor, input: { tenantId: string; subscriptionId: string; planId: string; requestId: string; now: Date }): Promise<PlanChange> {
  const { tenantId, subscriptionId, now } = input;
  const key = changeKey(subscriptionId, input.requestId);
  return db.transaction(async (tx) => {
    const done = await findPlanChange(tx, tenantId, subscriptionId, input.requestId);
    if (done) return done;

    const { sub, from, to, priceMinor } = await checkPlanChange(tx, tenantId, subscriptionId, input.planId, { lock: true });
    const period = invoicedPeriodAt(sub, now);
    const creditMinor = period ? prorate(sub.unitPriceMinor * sub.quantity, period, now) : 0;
    const chargeMinor = period ? prorate(priceMinor * sub.quantity, period, now) : 0;
    const [change] = await tx
      .insert(subscriptionChanges)
      .values({ tenantId, subscriptionId, key, fromPlanId: sub.planId, toPlanId: input.planId, fromUnitPriceMinor: sub.unitPriceMinor, toUnitPriceMinor: priceMinor, effectiveAt: now, creditMinor, chargeMinor })
      .returning();
    await tx.update(subscriptions).set({ planId: input.planId, unitPriceMinor: priceMinor, updatedAt: sql`now()` }).where(eq(subscriptions.id, sub.id));

    const net = chargeMinor - creditMinor;
    if (period && net !== 0) {
      const zone = sub.timeZone;
      const span = `${day(now, zone)} – ${day(new Date(period.end.getTime() - 1), zone)}`;
      const name = (r: typeof from) => `${r.productName} — ${r.plan.name}`;
      const documentKey = `change/${change!.id}`;
      if (net > 0) {
        const { invoiceId } = await createDraftInvoice(tx, {
          tenantId,
          customerId: sub.customerId,
          subscriptionId: sub.id,
          key: documentKey,
          lines: [
            { kind: 'proration', description: `Unused time on ${name(from)}, ${span}`, quantity: 1, unitPriceMinor: -creditMinor, periodStart: now, periodEnd: period.end },
            { kind: 'proration', description: `${name(to)}, ${span}`, quantity: 1, unitPriceMinor: chargeMinor, periodStart: now, periodEnd: period.end },
          ],
        });
        await finalizeInvoices(tx, tenantId, [invoiceId], now);
        await tx.update(subscriptionChanges).set({ invoiceId }).where(eq(subscriptionChanges.id, change!.id));
      } else {
        const [periodInvoice] = await tx
          .select({ id: invoices.id })
          .from(invoices)
          .where(and(eq(invoices.tenantId, tenantId), eq(invoices.subscriptionId, sub.id), eq(invoices.periodStart, period.start), inArray(invoices.status, ['finalized', 'paid'])));
        if (!periodInvoice) throw new LedgerError('conflict', "the period's invoice is void or missing; there is nothing to credit the change against");
        await issueCreditNote(tx, {
          tenantId,
          invoiceId: periodInvoice.id,
          key: documentKey,
          reason: `plan change from ${name(from)} to ${name(to)} on ${day(now, zone)}`,
          lines: [{ description: `Unused time on ${name(from)} less ${name(to)}, ${span}`, quantity: 1, unitPriceMinor: -net }],
          now,
        });
      }
    }
    const [row] = await tx.select().from(subscriptionChanges).where(eq(subscriptionChanges.id, change!.id));
    return presentChange(tx, row!);
  });
}

const changeKey = (subscriptionId: string, requestId: string) => `change/${subscriptionId}/${requestId}`;

/** The change a request made, if it made one already. */
export async function findPlanChange(db: Executor, tenantId: string, subscriptionId: string, requestId: string): Promise<PlanChange | null> {
  const [row] = await db.select().from(subscriptionChanges).where(and(eq(subscriptionChanges.tenantId, tenantId), eq(subscriptionChanges.key, changeKey(subscriptionId, requestId))));
  return row ? presentChange(db, row) : null;
}

async function presentChange(db: Executor, c: typeof subscriptionChanges.$inferSelect): Promise<PlanChange> {
  const [sub] = await db.select().from(subscriptions).where(eq(subscriptions.id, c.subscriptionId));
  const [note] = await db.select({ id: creditNotes.id }).from(creditNotes).where(and(eq(creditNotes.tenantId, c.tenantId), eq(creditNotes.key, `change/${c.id}`)));
  const index = periodIndexAt(sub!.anchorDate, sub!.cycle, sub!.timeZone, c.effectiveAt);
  const period = c.creditMinor || c.chargeMinor ? periodAt(sub!.anchorDate, sub!.cycle, sub!.timeZone, index) : null;
  return {
    id: c.id,
    subscriptionId: c.subscriptionId,
    fromPlanId: c.fromPlanId,
    toPlanId: c.toPlanId,
    fromUnitPriceMinor: c.fromUnitPriceMinor,
    toUnitPriceMinor: c.toUnitPriceMinor,
    currency: sub!.currency,
    timeZone: sub!.timeZone,
    effectiveAt: c.effectiveAt.toISOString(),
    periodStart: period?.start.toISOString() ?? null,
    periodEnd: period?.end.toISOString() ?? null,
    creditMinor: c.creditMinor,
    chargeMinor: c.chargeMinor,
    netMinor: c.chargeMinor - c.creditMinor,
    invoiceId: c.invoiceId,
    creditNoteId: note?.id ?? null,
  };
}
