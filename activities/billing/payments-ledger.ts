import type { Executor } from '@keelson/db';
import { creditApplications, creditNotes, customers, invoices, payments, refunds, type PaymentMethod, type PaymentProvider } from '@keelson/db/schema';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { LedgerError } from './ledger';

/**
 * The payments ledger (decision 0026): money received (`payments`), customer credit applied to
 * invoices (`credit_applications`) and money returned (`refunds`). Balances are derived from these
 * rows every time, never stored: an invoice's balance is its total, less its credit notes, less
 * what payments and credit applied to it, plus what was refunded of it; a customer's credit is
 * the part of their payments that no invoice took, less the credit applied since. Every write
 * locks the invoice (and the customer, for credit) so concurrent payments queue.
 */

export interface InvoiceBalance {
  invoiceId: string;
  customerId: string;
  status: string;
  currency: string;
  totalMinor: number;
  creditedMinor: number;
  paidMinor: number;
  creditAppliedMinor: number;
  refundedMinor: number;
  /** What is still owed; negative when more came in than is owed (a refund may follow). */
  balanceMinor: number;
}

const sumOf = (column: unknown) => sql<string>`coalesce(sum(${column}), 0)`;

/** An invoice's balance, derived from the ledger. */
export async function invoiceBalance(db: Executor, tenantId: string, invoiceId: string): Promise<InvoiceBalance> {
  // Table names spelled out: each sum is over its own table, correlated to this invoice.
  const [row] = await db
    .execute<{ id: string; customer_id: string; status: string; currency: string; total_minor: string; credited: string; paid: string; applied: string; refunded: string }>(
      sql`
      select i.id, i.customer_id, i.status, i.currency, i.total_minor,
        (select coalesce(sum(cn.total_minor), 0) from ${creditNotes} cn where cn.invoice_id = i.id) as credited,
        (select coalesce(sum(p.applied_minor), 0) from ${payments} p where p.invoice_id = i.id) as paid,
        (select coalesce(sum(ca.amount_minor), 0) from ${creditApplications} ca where ca.invoice_id = i.id) as applied,
        (select coalesce(sum(r.amount_minor), 0) from ${refunds} r where r.invoice_id = i.id) as refunded
      from ${invoices} i where i.tenant_id = ${tenantId} and i.id = ${invoiceId}`,
    )
    .then((r) => r.rows);
  if (!row) throw new LedgerError('not_found', 'invoice not found');
  const totalMinor = Number(row.total_minor);
  const creditedMinor = Number(row.credited);
  const paidMinor = Number(row.paid);
  const creditAppliedMinor = Number(row.applied);
  const refundedMinor = Number(row.refunded);
  return {
    invoiceId: row.id,
    customerId: row.customer_id,
    status: row.status,
    currency: row.currency,
    totalMinor,
    creditedMinor,
    paidMinor,
    creditAppliedMinor,
    refundedMinor,
    balanceMinor: totalMinor - creditedMinor - paidMinor - creditAppliedMinor + refundedMinor,
  };
}

/** A customer's credit in a currency: payments no invoice took, less credit applied since. */
export async function customerCredit(db: Executor, tenantId: string, customerId: string, currency: string): Promise<number> {
  const [row] = await db.execute<{ credit: string }>(sql`
    select
      (select coalesce(sum(amount_minor - applied_minor), 0) from ${payments} where tenant_id = ${tenantId} and customer_id = ${customerId} and currency = ${currency})
      - (select coalesce(sum(amount_minor), 0) from ${creditApplications} where tenant_id = ${tenantId} and customer_id = ${customerId} and currency = ${currency})
      as credit`).then((r) => r.rows);
  return Number(row?.credit ?? 0);
}

export interface PaymentInput {
  tenantId: string;
  invoiceId: string;
  provider: PaymentProvider;
  /** The PaymentIntent id (Stripe); a manual payment's own id. Unique with the provider. */
  providerPaymentId: string;
  method: PaymentMethod;
  amountMinor: number;
  currency: string;
  reference?: string | null;
  receivedAt: Date;
  recordedBy: string;
  /**
   * Manual payments are refused for drafts and void invoices; money that really arrived (a card
   * payment) is kept whatever the invoice became, as the customer's credit.
   */
  strict: boolean;
}

export interface RecordedPayment {
  paymentId: string;
  invoiceId: string;
  customerId: string;
  /** False when this provider payment was already recorded (nothing changed this time). */
  created: boolean;
  amountMinor: number;
  appliedMinor: number;
  /** The invoice's status and balance after it. */
  invoiceStatus: string;
  balanceMinor: number;
  /** This payment brought the invoice to zero. */
  paidNow: boolean;
}

/**
 * Records money received against an invoice, once per (provider, provider payment id). Up to what
 * the invoice still owes is applied to it; the rest becomes the customer's credit. When the
 * balance reaches zero the invoice becomes `paid` in the same transaction.
 */
export async function recordPayment(db: Executor, input: PaymentInput): Promise<RecordedPayment> {
  if (!Number.isSafeInteger(input.amountMinor) || input.amountMinor <= 0) throw new LedgerError('invalid', 'amountMinor: must be a positive whole number of minor units');
  return db.transaction(async (tx) => {
    const [invoice] = await tx
      .select({ id: invoices.id, customerId: invoices.customerId, status: invoices.status, currency: invoices.currency })
      .from(invoices)
      .where(and(eq(invoices.tenantId, input.tenantId), eq(invoices.id, input.invoiceId)))
      .for('update');
    if (!invoice) throw new LedgerError('not_found', 'invoice not found');
    const [existing] = await tx
      .select()
      .from(payments)
      .where(and(eq(payments.provider, input.provider), eq(payments.providerPaymentId, input.providerPaymentId)));
    if (existing) {
      if (existing.tenantId !== input.tenantId) throw new LedgerError('conflict', 'this payment is recorded in another organization');
      const after = await invoiceBalance(tx, input.tenantId, existing.invoiceId ?? input.invoiceId);
      return { paymentId: existing.id, invoiceId: after.invoiceId, customerId: existing.customerId, created: false, amountMinor: existing.amountMinor, appliedMinor: existing.appliedMinor, invoiceStatus: after.status, balanceMinor: after.balanceMinor, paidNow: false };
    }
    if (input.strict && invoice.status !== 'finalized' && invoice.status !== 'paid') throw new LedgerError('conflict', `cannot record a payment for an invoice that is ${invoice.status} (only finalized or paid)`);
    if (input.currency.toUpperCase() !== invoice.currency.toUpperCase()) throw new LedgerError('invalid', `currency: the invoice is in ${invoice.currency}, not ${input.currency.toUpperCase()}`);
    const before = await invoiceBalance(tx, input.tenantId, invoice.id);
    const owed = invoice.status === 'finalized' ? Math.max(0, before.balanceMinor) : 0;
    const applied = Math.min(owed, input.amountMinor);
    const [row] = await tx
      .insert(payments)
      .values({
        tenantId: input.tenantId,
        customerId: invoice.customerId,
        invoiceId: invoice.id,
        provider: input.provider,
        providerPaymentId: input.providerPaymentId,
        method: input.method,
        amountMinor: input.amountMinor,
        appliedMinor: applied,
        currency: invoice.currency,
        reference: input.reference ?? null,
        receivedAt: input.receivedAt,
        recordedBy: input.recordedBy,
      })
      .returning({ id: payments.id });
    const balanceMinor = before.balanceMinor - applied;
    let status: string = invoice.status;
    let paidNow = false;
    if (invoice.status === 'finalized' && balanceMinor <= 0) {
      await tx.update(invoices).set({ status: 'paid', paidAt: input.receivedAt, updatedAt: sql`now()` }).where(eq(invoices.id, invoice.id));
      status = 'paid';
      paidNow = true;
    }
    return { paymentId: row!.id, invoiceId: invoice.id, customerId: invoice.customerId, created: true, amountMinor: input.amountMinor, appliedMinor: applied, invoiceStatus: status, balanceMinor, paidNow };
  });
}

/**
 * Applies each customer's credit to their invoices just finalized (call inside the transaction
 * that finalizes them): up to the invoice's balance, once per invoice (unique index), oldest
 * credit first by construction (credit is one number). An invoice covered in full is `paid`.
 * The customer row is locked so two finalizations never spend the same credit.
 */
export async function applyCustomerCredit(tx: Executor, tenantId: string, invoiceIds: string[], now: Date): Promise<Array<{ invoiceId: string; amountMinor: number; paidNow: boolean }>> {
  if (!invoiceIds.length) return [];
  const rows = await tx
    .select({ id: invoices.id, customerId: invoices.customerId, currency: invoices.currency, status: invoices.status })
    .from(invoices)
    .where(and(eq(invoices.tenantId, tenantId), inArray(invoices.id, invoiceIds), eq(invoices.status, 'finalized')));
  if (!rows.length) return [];
  // Only customers who have any payment can have credit: one query rules the rest out.
  const withPayments = await tx
    .selectDistinct({ customerId: payments.customerId })
    .from(payments)
    .where(and(eq(payments.tenantId, tenantId), inArray(payments.customerId, [...new Set(rows.map((r) => r.customerId))]), sql`${payments.amountMinor} > ${payments.appliedMinor}`));
  const candidates = new Set(withPayments.map((r) => r.customerId));
  const out: Array<{ invoiceId: string; amountMinor: number; paidNow: boolean }> = [];
  for (const inv of rows.filter((r) => candidates.has(r.customerId))) {
    await tx.select({ id: customers.id }).from(customers).where(eq(customers.id, inv.customerId)).for('update');
    const credit = await customerCredit(tx, tenantId, inv.customerId, inv.currency);
    if (credit <= 0) continue;
    const { balanceMinor } = await invoiceBalance(tx, tenantId, inv.id);
    const amount = Math.min(credit, balanceMinor);
    if (amount <= 0) continue;
    const [applied] = await tx
      .insert(creditApplications)
      .values({ tenantId, customerId: inv.customerId, invoiceId: inv.id, amountMinor: amount, currency: inv.currency })
      .onConflictDoNothing()
      .returning({ id: creditApplications.id });
    if (!applied) continue;
    const paidNow = balanceMinor - amount <= 0;
    if (paidNow) await tx.update(invoices).set({ status: 'paid', paidAt: now, updatedAt: sql`now()` }).where(eq(invoices.id, inv.id));
    out.push({ invoiceId: inv.id, amountMinor: amount, paidNow });
  }
  return out;
}

export interface RefundInput {
  tenantId: string;
  paymentId: string;
  creditNoteId: string;
  amountMinor: number;
  reason: string;
  providerRefundId: string | null;
  recordedBy: string;
}

/** Records money returned against a payment, with its credit note (one refund per credit note). */
export async function recordRefund(db: Executor, input: RefundInput): Promise<{ refundId: string; created: boolean }> {
  return db.transaction(async (tx) => {
    const [payment] = await tx.select().from(payments).where(and(eq(payments.tenantId, input.tenantId), eq(payments.id, input.paymentId))).for('update');
    if (!payment) throw new LedgerError('not_found', 'payment not found');
    const [existing] = await tx.select({ id: refunds.id }).from(refunds).where(eq(refunds.creditNoteId, input.creditNoteId));
    if (existing) return { refundId: existing.id, created: false };
    const [done] = await tx.select({ total: sumOf(refunds.amountMinor) }).from(refunds).where(eq(refunds.paymentId, payment.id));
    if (Number(done!.total) + input.amountMinor > payment.amountMinor) throw new LedgerError('invalid', `amountMinor: more than what is left of the payment (${payment.amountMinor - Number(done!.total)})`);
    const [row] = await tx
      .insert(refunds)
      .values({
        tenantId: input.tenantId,
        paymentId: payment.id,
        invoiceId: payment.invoiceId,
        creditNoteId: input.creditNoteId,
        amountMinor: input.amountMinor,
        currency: payment.currency,
        providerRefundId: input.providerRefundId,
        reason: input.reason,
        recordedBy: input.recordedBy,
      })
      .returning({ id: refunds.id });
    return { refundId: row!.id, created: true };
  });
}
