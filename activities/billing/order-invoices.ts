import type { Executor } from '@keelson/db';
import { invoices, orders, plans, products, subscriptions } from '@keelson/db/schema';
import { and, eq, sql } from 'drizzle-orm';
import { createDraftInvoice, finalizeInvoices, issueCreditNote, LedgerError, type LineInput } from './ledger';
import { periodAt } from './periods';

/** The business key of an order's first invoice, and of the credit note that undoes it. */
export const orderInvoiceKey = (orderId: string) => `order/${orderId}`;

/**
 * An order's first invoice, drafted and finalized (numbered) in one transaction, once per order
 * (key `order/<order>`): the order's one-off lines (the plan's setup fee, a quote's other lines)
 * and, unless the plan starts with a trial, the subscription's first period — the subscription
 * moves past that period under its row lock, so the billing run does not invoice it again.
 * Null when there is nothing to invoice (a free trial without a setup fee).
 */
export async function invoiceOrder(db: Executor, tenantId: string, orderId: string, now: Date): Promise<{ invoiceId: string; number: string } | null> {
  return db.transaction(async (tx) => {
    const [o] = await tx.select().from(orders).where(and(eq(orders.tenantId, tenantId), eq(orders.id, orderId)));
    if (!o) throw new LedgerError('not_found', 'order not found');
    const key = orderInvoiceKey(orderId);
    const [existing] = await tx.select({ id: invoices.id }).from(invoices).where(and(eq(invoices.tenantId, tenantId), eq(invoices.key, key)));
    if (existing) return finalizeOne(tx, tenantId, existing.id, now);

    const [sub] = o.subscriptionId ? await tx.select().from(subscriptions).where(and(eq(subscriptions.tenantId, tenantId), eq(subscriptions.id, o.subscriptionId))).for('update') : [];
    const [plan] = await tx
      .select({ name: plans.name, trialDays: plans.trialDays, productName: products.name })
      .from(plans)
      .innerJoin(products, eq(products.id, plans.productId))
      .where(and(eq(plans.tenantId, tenantId), eq(plans.id, o.planId)));
    if (!plan) throw new LedgerError('not_found', `order ${o.reference}: its plan is gone`);

    // A quote's one-off lines are its own; an order of a plan carries only the setup fee.
    const lines: LineInput[] = o.oneOffLines.map((l) => ({ kind: o.quoteId ? 'custom' : 'setup', description: l.description, quantity: l.quantity, unitPriceMinor: l.unitAmountMinor }));
    const first = sub && plan.trialDays === 0 && sub.nextPeriodIndex === 0 ? periodAt(sub.anchorDate, sub.cycle, sub.timeZone, 0) : null;
    if (first) {
      lines.unshift({ kind: 'plan', description: `${plan.productName} — ${plan.name} (${sub!.cycle})`, quantity: sub!.quantity, unitPriceMinor: sub!.unitPriceMinor, periodStart: first.start, periodEnd: first.end });
    }
    if (!lines.length) return null;

    const { invoiceId } = await createDraftInvoice(tx, {
      tenantId,
      customerId: o.customerId,
      subscriptionId: o.subscriptionId,
      orderId,
      key,
      periodStart: first?.start ?? null,
      periodEnd: first?.end ?? null,
      lines,
    });
    if (first) {
      await tx
        .update(subscriptions)
        .set({ nextPeriodIndex: 1, nextPeriodStart: first.end, currentPeriodStart: first.start, currentPeriodEnd: first.end, updatedAt: sql`now()` })
        .where(and(eq(subscriptions.id, sub!.id), eq(subscriptions.nextPeriodIndex, 0)));
    }
    return finalizeOne(tx, tenantId, invoiceId, now);
  });
}

async function finalizeOne(tx: Executor, tenantId: string, invoiceId: string, now: Date) {
  const [done] = await finalizeInvoices(tx, tenantId, [invoiceId], now);
  return { invoiceId, number: done!.number };
}

/**
 * Credits everything the order's invoice still holds, once per order (key `order/<order>` in the
 * credit notes' own series). Null when the invoice holds nothing (a zero total).
 */
export async function creditOrder(db: Executor, input: { tenantId: string; orderId: string; invoiceId: string; reason: string; now: Date }): Promise<{ creditNoteId: string } | null> {
  const [inv] = await db.select({ totalMinor: invoices.totalMinor }).from(invoices).where(and(eq(invoices.tenantId, input.tenantId), eq(invoices.id, input.invoiceId)));
  if (!inv) throw new LedgerError('not_found', 'invoice not found');
  if (inv.totalMinor <= 0) return null;
  const note = await issueCreditNote(db, { tenantId: input.tenantId, invoiceId: input.invoiceId, reason: input.reason, key: orderInvoiceKey(input.orderId), now: input.now });
  return { creditNoteId: note.creditNoteId };
}
