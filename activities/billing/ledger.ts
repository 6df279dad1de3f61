import type { Executor } from '@keelson/db';
import {
  billingSettings,
  creditNoteLines,
  creditNotes,
  customerContacts,
  customers,
  invoiceLines,
  invoices,
  numberCounters,
  taxRules,
  type LineKind,
} from '@keelson/db/schema';
import { and, asc, eq, inArray, isNull, or, sql } from 'drizzle-orm';
import { DateTime } from 'luxon';
import { applyCustomerCredit, invoiceBalance, recordPayment, type RecordedPayment } from './payments-ledger';

/**
 * Invoices and credit notes: drafts, numbering at finalization, void, paid, credit. Shared by
 * the API's services and the billing activities, so there is one way money is written. Every
 * function takes the organization explicitly and filters on it.
 */

export class LedgerError extends Error {
  constructor(
    readonly kind: 'not_found' | 'conflict' | 'invalid',
    message: string,
  ) {
    super(message);
  }
}

export interface LineInput {
  kind: LineKind;
  description: string;
  quantity: number;
  /** Negative for credits inside an invoice (a prorated plan change). */
  unitPriceMinor: number;
  periodStart?: Date | null;
  periodEnd?: Date | null;
}

/** Integer division rounding half away from zero (tax on a negative line mirrors a positive one). */
function divRound(numerator: bigint, denominator: bigint): bigint {
  const sign = numerator < 0n ? -1n : 1n;
  const abs = numerator * sign;
  return sign * ((abs * 2n + denominator) / (2n * denominator));
}

/** A line's amounts in minor units: net = quantity × unit price, tax rounded once per line. */
export function lineAmounts(quantity: number, unitPriceMinor: number, taxRateBp: number) {
  const net = BigInt(quantity) * BigInt(unitPriceMinor);
  const tax = divRound(net * BigInt(taxRateBp), 10_000n);
  return { netMinor: Number(net), taxMinor: Number(tax), totalMinor: Number(net + tax) };
}

export interface TaxDecision {
  rateBp: number;
  reverseCharge: boolean;
  /** The rule that applied (`VAT DE`), or null when the organization has none. */
  rule: string | null;
}

/**
 * Tax for a customer: the organization's rule for the customer's country, else its default
 * rule (country null), else none. A company with a valid tax id in a country whose rule says
 * reverse charge pays no tax (the invoice says so).
 */
export async function taxFor(db: Executor, tenantId: string, customer: { country: string; kind: string; taxIdValid: boolean }): Promise<TaxDecision> {
  const rules = await db
    .select()
    .from(taxRules)
    .where(and(eq(taxRules.tenantId, tenantId), or(eq(taxRules.country, customer.country), isNull(taxRules.country))));
  const rule = rules.find((r) => r.country === customer.country) ?? rules.find((r) => r.country === null);
  if (!rule) return { rateBp: 0, reverseCharge: false, rule: null };
  if (rule.reverseCharge && customer.kind === 'company' && customer.taxIdValid) return { rateBp: 0, reverseCharge: true, rule: rule.name };
  return { rateBp: rule.rateBp, reverseCharge: false, rule: rule.name };
}

export interface DraftInput {
  tenantId: string;
  customerId: string;
  subscriptionId?: string | null;
  orderId?: string | null;
  /** Idempotency: a second draft with the same key returns the first. */
  key?: string | null;
  periodStart?: Date | null;
  periodEnd?: Date | null;
  lines: LineInput[];
  notes?: string;
}

/**
 * Writes a draft invoice with its lines and totals, taxed for the customer as they are now. A
 * draft whose key, or whose (subscription, period start), is already there is not written again:
 * the existing one is returned with `created: false`.
 */
export async function createDraftInvoice(db: Executor, input: DraftInput): Promise<{ invoiceId: string; created: boolean }> {
  if (!input.lines.length) throw new LedgerError('invalid', 'an invoice needs at least one line');
  return db.transaction(async (tx) => {
    const [customer] = await tx.select().from(customers).where(and(eq(customers.tenantId, input.tenantId), eq(customers.id, input.customerId)));
    if (!customer) throw new LedgerError('not_found', 'customer not found');
    const tax = await taxFor(tx, input.tenantId, customer);
    const lines = input.lines.map((l, position) => ({ ...l, position, taxRateBp: tax.rateBp, ...lineAmounts(l.quantity, l.unitPriceMinor, tax.rateBp) }));
    const totals = sumLines(lines);
    const [row] = await tx
      .insert(invoices)
      .values({
        tenantId: input.tenantId,
        customerId: input.customerId,
        subscriptionId: input.subscriptionId ?? null,
        orderId: input.orderId ?? null,
        key: input.key ?? null,
        currency: customer.currency,
        periodStart: input.periodStart ?? null,
        periodEnd: input.periodEnd ?? null,
        reverseCharge: tax.reverseCharge,
        notes: input.notes ?? '',
        ...totals,
      })
      .onConflictDoNothing()
      .returning({ id: invoices.id });
    if (!row) {
      const existing = await findDraftTwin(tx, input);
      if (!existing) throw new LedgerError('conflict', 'an invoice with this key or period exists in another organization');
      return { invoiceId: existing, created: false };
    }
    await tx.insert(invoiceLines).values(
      lines.map((l) => ({
        invoiceId: row.id,
        position: l.position,
        kind: l.kind,
        description: l.description,
        quantity: l.quantity,
        unitPriceMinor: l.unitPriceMinor,
        taxRateBp: l.taxRateBp,
        netMinor: l.netMinor,
        taxMinor: l.taxMinor,
        totalMinor: l.totalMinor,
        periodStart: l.periodStart ?? null,
        periodEnd: l.periodEnd ?? null,
      })),
    );
    return { invoiceId: row.id, created: true };
  });
}

async function findDraftTwin(db: Executor, input: DraftInput): Promise<string | undefined> {
  if (input.key) {
    const [row] = await db.select({ id: invoices.id }).from(invoices).where(and(eq(invoices.tenantId, input.tenantId), eq(invoices.key, input.key)));
    if (row) return row.id;
  }
  if (input.subscriptionId && input.periodStart) {
    const [row] = await db
      .select({ id: invoices.id })
      .from(invoices)
      .where(and(eq(invoices.tenantId, input.tenantId), eq(invoices.subscriptionId, input.subscriptionId), eq(invoices.periodStart, input.periodStart)));
    if (row) return row.id;
  }
  return undefined;
}

export function sumLines(lines: Array<{ netMinor: number; taxMinor: number; totalMinor: number }>) {
  return lines.reduce((t, l) => ({ subtotalMinor: t.subtotalMinor + l.netMinor, taxMinor: t.taxMinor + l.taxMinor, totalMinor: t.totalMinor + l.totalMinor }), { subtotalMinor: 0, taxMinor: 0, totalMinor: 0 });
}

export interface SellerSettings {
  legalName: string;
  invoicePrefix: string;
  creditNotePrefix: string;
  paymentTermsDays: number;
  runTimeZone: string;
}

export async function sellerSettings(db: Executor, tenantId: string): Promise<SellerSettings & { row: typeof billingSettings.$inferSelect | null }> {
  const [row] = await db.select().from(billingSettings).where(eq(billingSettings.tenantId, tenantId));
  return {
    row: row ?? null,
    legalName: row?.legalName ?? '',
    invoicePrefix: row?.invoicePrefix ?? 'INV',
    creditNotePrefix: row?.creditNotePrefix ?? 'CN',
    paymentTermsDays: row?.paymentTermsDays ?? 14,
    runTimeZone: row?.runTimeZone ?? 'UTC',
  };
}

/** `INV-2026`: the series an invoice issued at `at` belongs to (the year in the organization's zone). */
export function seriesFor(prefix: string, at: Date, timeZone: string): string {
  return `${prefix}-${DateTime.fromJSDate(at, { zone: timeZone }).year}`;
}

export const formatNumber = (series: string, sequence: number) => `${series}-${String(sequence).padStart(6, '0')}`;

/**
 * Takes `count` consecutive numbers of a series. The upsert locks the counter row until the
 * transaction ends, so concurrent finalizations queue behind it, and a rolled-back one gives its
 * numbers back: numbers are gapless and never shared. Call inside the transaction that writes them.
 */
export async function takeNumbers(tx: Executor, tenantId: string, series: string, count: number): Promise<number> {
  const [row] = await tx
    .insert(numberCounters)
    .values({ tenantId, series, last: count })
    .onConflictDoUpdate({ target: [numberCounters.tenantId, numberCounters.series], set: { last: sql`${numberCounters.last} + ${count}` } })
    .returning({ last: numberCounters.last });
  return row!.last - count + 1;
}

export interface Finalized {
  invoiceId: string;
  number: string;
  /** False when it was already finalized (nothing changed this time). */
  finalizedNow: boolean;
  /** Whom it bills (absent in results recorded before it was added). */
  customerId?: string;
  /** Its series and place in it (absent in results recorded before they were added). */
  series?: string;
  sequence?: number;
}

/**
 * Finalizes drafts in one transaction: locks them, takes consecutive numbers from the series'
 * counter, stamps number, issue and due dates and the customer as they are now. Already
 * finalized ones are returned as they are; so a retry after a crash changes nothing.
 */
export async function finalizeInvoices(db: Executor, tenantId: string, invoiceIds: string[], now: Date): Promise<Finalized[]> {
  if (!invoiceIds.length) return [];
  return db.transaction(async (tx) => {
    const settings = await sellerSettings(tx, tenantId);
    const rows = await tx
      .select({ id: invoices.id, status: invoices.status, number: invoices.number, customerId: invoices.customerId, series: invoices.series, sequence: invoices.sequence })
      .from(invoices)
      .where(and(eq(invoices.tenantId, tenantId), inArray(invoices.id, invoiceIds)))
      .orderBy(asc(invoices.createdAt), asc(invoices.id))
      .for('update');
    const drafts = rows.filter((r) => r.status === 'draft');
    const out: Finalized[] = rows
      .filter((r) => r.status !== 'draft')
      .map((r) => ({ invoiceId: r.id, number: r.number!, finalizedNow: false, customerId: r.customerId, series: r.series ?? undefined, sequence: r.sequence ?? undefined }));
    if (!drafts.length) return out;
    const series = seriesFor(settings.invoicePrefix, now, settings.runTimeZone);
    const first = await takeNumbers(tx, tenantId, series, drafts.length);
    const assigned = drafts.map((d, i) => ({ id: d.id, seq: first + i, num: formatNumber(series, first + i), customerId: d.customerId }));
    const due = new Date(now.getTime() + settings.paymentTermsDays * 86_400_000);
    await tx.execute(sql`
      update ${invoices} as i set
        status = 'finalized', series = ${series}, sequence = v.seq, number = v.num,
        issued_at = ${now.toISOString()}::timestamptz, due_at = ${due.toISOString()}::timestamptz, updated_at = now(),
        customer_snapshot = jsonb_build_object(
          'name', c.name, 'kind', c.kind, 'address', c.address, 'taxId', c.tax_id,
          'email', (select cc.email from ${customerContacts} cc where cc.customer_id = c.id and cc.is_billing limit 1))
      from jsonb_to_recordset(${JSON.stringify(assigned)}::jsonb) as v(id uuid, seq int, num text), ${customers} c
      where i.id = v.id and i.tenant_id = ${tenantId} and c.id = i.customer_id`);
    // A customer's credit (an earlier overpayment) pays the next invoice first (decision 0026).
    await applyCustomerCredit(tx, tenantId, assigned.map((a) => a.id), now);
    return [...out, ...assigned.map((a) => ({ invoiceId: a.id, number: a.num, finalizedNow: true, customerId: a.customerId, series, sequence: a.seq }))];
  });
}

/** Voids a finalized invoice: its number stays used, nothing is owed. A paid one needs a credit note. */
export async function voidInvoice(db: Executor, tenantId: string, invoiceId: string, reason: string, now: Date) {
  const [row] = await db
    .update(invoices)
    .set({ status: 'void', voidedAt: now, voidReason: reason, updatedAt: sql`now()` })
    .where(and(eq(invoices.tenantId, tenantId), eq(invoices.id, invoiceId), eq(invoices.status, 'finalized')))
    .returning({ id: invoices.id });
  if (!row) await explainState(db, tenantId, invoiceId, 'void', ['finalized']);
}

/**
 * "Mark paid": a manual payment of the whole balance, through the same path as every payment
 * (payments-ledger.ts), once per invoice (its provider payment id is `<tenant>/mark-paid/<invoice>`).
 */
export async function markInvoicePaid(db: Executor, tenantId: string, invoiceId: string, at: Date, recordedBy = 'staff'): Promise<RecordedPayment> {
  return db.transaction(async (tx) => {
    const [row] = await tx.select({ status: invoices.status }).from(invoices).where(and(eq(invoices.tenantId, tenantId), eq(invoices.id, invoiceId))).for('update');
    if (row?.status !== 'finalized') await explainState(tx, tenantId, invoiceId, 'mark as paid', ['finalized']);
    const balance = await invoiceBalance(tx, tenantId, invoiceId);
    if (balance.balanceMinor <= 0) {
      // Credit notes or payments already cover it: nothing more to receive.
      await tx.update(invoices).set({ status: 'paid', paidAt: at, updatedAt: sql`now()` }).where(eq(invoices.id, invoiceId));
      return { paymentId: '', invoiceId, customerId: balance.customerId, created: false, amountMinor: 0, appliedMinor: 0, invoiceStatus: 'paid', balanceMinor: balance.balanceMinor, paidNow: true };
    }
    return recordPayment(tx, {
      tenantId,
      invoiceId,
      provider: 'manual',
      providerPaymentId: `${tenantId}/mark-paid/${invoiceId}`,
      method: 'other',
      amountMinor: balance.balanceMinor,
      currency: balance.currency,
      reference: 'marked paid',
      receivedAt: at,
      recordedBy,
      strict: true,
    });
  });
}

async function explainState(db: Executor, tenantId: string, invoiceId: string, action: string, allowed: string[]): Promise<never> {
  const [row] = await db.select({ status: invoices.status }).from(invoices).where(and(eq(invoices.tenantId, tenantId), eq(invoices.id, invoiceId)));
  if (!row) throw new LedgerError('not_found', 'invoice not found');
  throw new LedgerError('conflict', `cannot ${action} an invoice that is ${row.status} (only ${allowed.join(' or ')})`);
}

export interface CreditNoteInput {
  tenantId: string;
  invoiceId: string;
  reason: string;
  /** Idempotency: a second request with the same key returns the first credit note. */
  key?: string | null;
  /** What to credit, net, at the invoice's tax rate; everything still uncredited when left out. */
  lines?: Array<{ description: string; quantity: number; unitPriceMinor: number }>;
  now: Date;
}

/**
 * Issues a credit note against a finalized or paid invoice, numbered at once in its own series
 * (`CN-2026`) from a locked counter. The credited total never exceeds what the invoice still
 * holds; crediting "the rest" of a fully credited invoice is a conflict.
 */
export async function issueCreditNote(db: Executor, input: CreditNoteInput): Promise<{ creditNoteId: string; number: string; created: boolean }> {
  return db.transaction(async (tx) => {
    if (input.key) {
      const [existing] = await tx.select({ id: creditNotes.id, number: creditNotes.number }).from(creditNotes).where(and(eq(creditNotes.tenantId, input.tenantId), eq(creditNotes.key, input.key)));
      if (existing) return { creditNoteId: existing.id, number: existing.number!, created: false };
    }
    const [invoice] = await tx
      .select()
      .from(invoices)
      .where(and(eq(invoices.tenantId, input.tenantId), eq(invoices.id, input.invoiceId)))
      .for('update');
    if (!invoice) throw new LedgerError('not_found', 'invoice not found');
    if (invoice.status !== 'finalized' && invoice.status !== 'paid') throw new LedgerError('conflict', `cannot credit an invoice that is ${invoice.status} (only finalized or paid)`);
    const [credited] = await tx
      .select({ total: sql<string>`coalesce(sum(${creditNotes.totalMinor}), 0)` })
      .from(creditNotes)
      .where(and(eq(creditNotes.tenantId, input.tenantId), eq(creditNotes.invoiceId, invoice.id)));
    const alreadyCredited = Number(credited!.total);
    const remaining = invoice.totalMinor - alreadyCredited;
    const sourceLines = await tx.select().from(invoiceLines).where(eq(invoiceLines.invoiceId, invoice.id)).orderBy(asc(invoiceLines.position));
    const rateBp = sourceLines[0]?.taxRateBp ?? 0;
    let lines: Array<{ description: string; quantity: number; unitPriceMinor: number; taxRateBp: number; netMinor: number; taxMinor: number; totalMinor: number }>;
    if (input.lines?.length) {
      lines = input.lines.map((l) => ({ ...l, taxRateBp: rateBp, ...lineAmounts(l.quantity, l.unitPriceMinor, rateBp) }));
    } else if (alreadyCredited === 0) {
      lines = sourceLines.map((l) => ({ description: l.description, quantity: l.quantity, unitPriceMinor: l.unitPriceMinor, taxRateBp: l.taxRateBp, netMinor: l.netMinor, taxMinor: l.taxMinor, totalMinor: l.totalMinor }));
    } else {
      // The rest, as one line: the remaining gross split back into net and tax at the invoice's rate.
      const net = Number(divRound(BigInt(remaining) * 10_000n, BigInt(10_000 + rateBp)));
      lines = [{ description: `Rest of invoice ${invoice.number}`, quantity: 1, unitPriceMinor: net, taxRateBp: rateBp, netMinor: net, taxMinor: remaining - net, totalMinor: remaining }];
    }
    const totals = sumLines(lines);
    if (totals.totalMinor <= 0) throw new LedgerError('conflict', `nothing left to credit on invoice ${invoice.number}`);
    if (totals.totalMinor > remaining) throw new LedgerError('invalid', `lines: the credit (${totals.totalMinor}) exceeds what invoice ${invoice.number} still holds (${remaining})`);
    const settings = await sellerSettings(tx, input.tenantId);
    const series = seriesFor(settings.creditNotePrefix, input.now, settings.runTimeZone);
    const sequence = await takeNumbers(tx, input.tenantId, series, 1);
    const number = formatNumber(series, sequence);
    const [row] = await tx
      .insert(creditNotes)
      .values({
        tenantId: input.tenantId,
        invoiceId: invoice.id,
        customerId: invoice.customerId,
        key: input.key ?? null,
        status: 'finalized',
        series,
        sequence,
        number,
        currency: invoice.currency,
        reverseCharge: invoice.reverseCharge,
        customerSnapshot: invoice.customerSnapshot,
        reason: input.reason,
        issuedAt: input.now,
        ...totals,
      })
      .returning({ id: creditNotes.id });
    await tx.insert(creditNoteLines).values(lines.map((l, position) => ({ creditNoteId: row!.id, position, ...l })));
    return { creditNoteId: row!.id, number, created: true };
  });
}
