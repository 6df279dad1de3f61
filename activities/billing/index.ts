import type { KeyRing } from '@keelson/common/codec';
import { mergeNumberRanges, type NumberRange } from '@keelson/common/number-ranges';
import type { Database } from '@keelson/db';
import { billingSettings, creditNotes, customerContacts, invoices, outboundEmails } from '@keelson/db/schema';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { and, asc, between, eq, inArray, ne } from 'drizzle-orm';
import { createMailActivities } from '../mail/index';
import { enqueueEmail } from '../mail/outbox';
import { invoiceFilename, renderCreditNotePdf, renderInvoicePdfs } from './documents';
import { createDraftInvoice, finalizeInvoices, issueCreditNote, LedgerError, type CreditNoteInput, type Finalized, type LineInput } from './ledger';
import { formatMoney } from './pdf';
import { creditOrder, invoiceOrder } from './order-invoices';
import { changePlan, subscriptionFacts, type PlanChange, type SubscriptionFacts } from './plan-changes';
import {
  activateSubscription,
  endTrials,
  cancelSubscription,
  createSubscription,
  draftPeriodInvoices,
  findDueSubscriptions,
  type DraftedPeriod,
  type DueSubscription,
  type NewSubscription,
} from './subscriptions';

export { periodInvoiceKey } from './subscriptions';
export type { DraftedPeriod, DueSubscription } from './subscriptions';
export type { Finalized } from './ledger';
export type { PlanChange, SubscriptionFacts } from './plan-changes';

export interface BillingDeps {
  db: Database;
  keys: KeyRing;
  /** The clock the billing run reads ("now" is injectable so a month runs in seconds in tests). */
  now?: () => Date;
}

/** Ledger refusals are business failures: retrying cannot help. */
async function ledger<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof LedgerError) throw ApplicationFailure.create({ type: `Billing${err.kind === 'not_found' ? 'NotFound' : err.kind === 'conflict' ? 'Conflict' : 'Invalid'}`, message: err.message, nonRetryable: true });
    throw err;
  }
}

const heartbeat = (details?: unknown) => {
  try {
    Context.current().heartbeat(details);
  } catch {
    // Called outside an activity (a direct call from a service or a bench): nothing to report to.
  }
};

/**
 * The billing activities: drafts, finalization, PDFs and emails of invoices and credit notes,
 * subscriptions, and the billing run's look-ups. Each is safe to repeat (keys, row locks and
 * "only if not yet" updates), and the batch ones handle many documents in a few statements.
 */
export function createBillingActivities({ db, keys, now = () => new Date() }: BillingDeps) {
  const mail = createMailActivities({ db, keys });

  async function queueEmails(tenantId: string, kind: 'invoice' | 'invoice.resend', invoiceIds: string[], keySuffix?: string): Promise<string[]> {
    const rows = await db
      .select({ id: invoices.id, number: invoices.number, status: invoices.status, pdfFileId: invoices.pdfFileId, totalMinor: invoices.totalMinor, currency: invoices.currency, dueAt: invoices.dueAt, snapshot: invoices.customerSnapshot })
      .from(invoices)
      .where(and(eq(invoices.tenantId, tenantId), inArray(invoices.id, invoiceIds)));
    const [seller] = await db.select({ legalName: billingSettings.legalName }).from(billingSettings).where(eq(billingSettings.tenantId, tenantId));
    const ids: string[] = [];
    for (const inv of rows) {
      if (!inv.number || !inv.pdfFileId) throw ApplicationFailure.create({ type: 'BillingConflict', message: `invoice ${inv.id} has no number or PDF yet`, nonRetryable: true });
      const to = inv.snapshot?.email;
      if (!to) continue; // a customer without a billing email gets no email; the invoice stands.
      const from = seller?.legalName || 'us';
      const { emailId } = await enqueueEmail(db, {
        tenantId,
        kind,
        key: keySuffix ? `${inv.id}/${keySuffix}` : inv.id,
        to: [to],
        subject: `Invoice ${inv.number} from ${from}`,
        text:
          `Hello ${inv.snapshot!.name},\n\nplease find attached invoice ${inv.number} for ${formatMoney(inv.totalMinor, inv.currency)}` +
          `${inv.dueAt ? `, due on ${inv.dueAt.toISOString().slice(0, 10)}` : ''}.\n\nThank you,\n${from}\n`,
        attachments: [{ fileId: inv.pdfFileId, filename: invoiceFilename(inv.number) }],
        resource: `invoice:${inv.id}`,
      });
      ids.push(emailId);
      heartbeat();
    }
    return ids;
  }

  return {
    /** The organization's lead time and the clock the billing run uses. */
    async billingRunContext({ tenantId }: { tenantId: string }): Promise<{ now: string; leadDays: number }> {
      const [s] = await db.select({ leadDays: billingSettings.leadDays }).from(billingSettings).where(eq(billingSettings.tenantId, tenantId));
      return { now: now().toISOString(), leadDays: s?.leadDays ?? 0 };
    },

    /** Subscriptions whose trial is over at the run's clock become active; returns how many. */
    async billingEndTrials({ tenantId, now: at }: { tenantId: string; now: string }): Promise<{ ended: number }> {
      return { ended: (await endTrials(db, tenantId, new Date(at))).length };
    },

    async billingFindDue(input: { tenantId: string; horizon: string; limit: number; after?: string }): Promise<DueSubscription[]> {
      return findDueSubscriptions(db, input.tenantId, new Date(input.horizon), input.limit, input.after);
    },

    async billingDraftPeriods(input: { tenantId: string; due: DueSubscription[] }): Promise<DraftedPeriod[]> {
      return ledger(() => draftPeriodInvoices(db, input.tenantId, input.due));
    },

    /** Finalizes drafts in one transaction (numbers from the locked counter); finalized ones are returned as they are. */
    async billingFinalizeInvoices(input: { tenantId: string; invoiceIds: string[] }): Promise<Finalized[]> {
      return ledger(() => finalizeInvoices(db, input.tenantId, input.invoiceIds, now()));
    },

    /**
     * Finalizes a billing run's batch like `billingFinalizeInvoices`, answering with the number
     * ranges the batch's invoices hold (those finalized before too: a retry after a crash finds
     * them all finalized, and they must still be issued) instead of each invoice.
     */
    async billingFinalizeBatch(input: { tenantId: string; invoiceIds: string[] }): Promise<{ finalizedNow: number; ranges: NumberRange[] }> {
      const out = await ledger(() => finalizeInvoices(db, input.tenantId, input.invoiceIds, now()));
      const numbered = out.filter((f) => f.series !== undefined && f.sequence !== undefined);
      return { finalizedNow: out.filter((f) => f.finalizedNow).length, ranges: mergeNumberRanges(numbered.map((f) => ({ series: f.series!, from: f.sequence!, to: f.sequence! }))) };
    },

    /** The invoices holding a range of numbers, as finalization answered them; voided ones are left out (they are not sent). */
    async billingNumberedInvoices(input: { tenantId: string } & NumberRange): Promise<Finalized[]> {
      const rows = await db
        .select({ id: invoices.id, number: invoices.number, customerId: invoices.customerId, sequence: invoices.sequence })
        .from(invoices)
        .where(and(eq(invoices.tenantId, input.tenantId), eq(invoices.series, input.series), between(invoices.sequence, input.from, input.to), ne(invoices.status, 'void')))
        .orderBy(asc(invoices.sequence));
      return rows.map((r) => ({ invoiceId: r.id, number: r.number!, finalizedNow: false, customerId: r.customerId, series: input.series, sequence: r.sequence! }));
    },

    /** Renders the PDFs still missing; returns how long each new one took. */
    async billingRenderInvoicePdfs(input: { tenantId: string; invoiceIds: string[] }): Promise<{ rendered: number; renderMs: number[] }> {
      const out = await renderInvoicePdfs(db, input.tenantId, input.invoiceIds, () => heartbeat());
      const fresh = out.filter((r) => r.renderMs > 0);
      return { rendered: fresh.length, renderMs: fresh.map((r) => Math.round(r.renderMs * 10) / 10) };
    },

    /** Records each invoice's email (kind `invoice`, key the invoice id: once per invoice) with its PDF. */
    async billingQueueInvoiceEmails(input: { tenantId: string; invoiceIds: string[]; resendKey?: string }): Promise<string[]> {
      return queueEmails(input.tenantId, input.resendKey ? 'invoice.resend' : 'invoice', input.invoiceIds, input.resendKey);
    },

    /**
     * Sends recorded emails, a few at a time; sent ones are skipped by the mail module. A
     * refused recipient is recorded as failed and does not stop the others.
     */
    async billingDeliverEmails(input: { tenantId: string; emailIds: string[] }): Promise<{ sent: number; failed: number }> {
      const pending = await db
        .select({ id: outboundEmails.id })
        .from(outboundEmails)
        .where(and(eq(outboundEmails.tenantId, input.tenantId), inArray(outboundEmails.id, input.emailIds), inArray(outboundEmails.status, ['queued', 'sending'])));
      let sent = 0;
      let failed = 0;
      let retryable: Error | null = null;
      const queue = pending.map((p) => p.id);
      await Promise.all(
        Array.from({ length: Math.min(4, queue.length) }, async () => {
          for (let id = queue.shift(); id; id = queue.shift()) {
            try {
              await mail.deliverEmail({ tenantId: input.tenantId, emailId: id });
              sent++;
            } catch (err) {
              if ((err as ApplicationFailure).nonRetryable) failed++;
              else retryable ??= err as Error;
            }
            heartbeat();
          }
        }),
      );
      if (retryable) throw retryable;
      return { sent, failed };
    },

    /** A draft invoice of any lines (an order's first invoice, a manual charge), keyed for idempotency. */
    async billingDraftInvoice(input: { tenantId: string; customerId: string; key: string; subscriptionId?: string | null; orderId?: string | null; lines: Array<Omit<LineInput, 'periodStart' | 'periodEnd'> & { periodStart?: string | null; periodEnd?: string | null }> }): Promise<{ invoiceId: string; created: boolean }> {
      return ledger(() =>
        createDraftInvoice(db, {
          ...input,
          lines: input.lines.map((l) => ({ ...l, periodStart: l.periodStart ? new Date(l.periodStart) : null, periodEnd: l.periodEnd ? new Date(l.periodEnd) : null })),
        }),
      );
    },

    async billingCreateSubscription(input: Omit<NewSubscription, 'startAt'> & { startAt: string }): Promise<{ subscriptionId: string }> {
      const row = await ledger(() => createSubscription(db, { ...input, startAt: new Date(input.startAt) }));
      return { subscriptionId: row.id };
    },

    async billingActivateSubscription(input: { tenantId: string; subscriptionId: string; resource?: string | null }): Promise<void> {
      await ledger(() => activateSubscription(db, input.tenantId, input.subscriptionId, input.resource ?? null, now()));
    },

    async billingCancelSubscription(input: { tenantId: string; subscriptionId: string; when: 'now' | 'period_end' }): Promise<void> {
      await ledger(async () => {
        try {
          await cancelSubscription(db, input.tenantId, input.subscriptionId, input.when, now());
        } catch (err) {
          // Cancelling twice (a retried compensation) is done.
          if (!(err instanceof LedgerError && err.kind === 'conflict')) throw err;
        }
      });
    },

    /** What the subscription's run keeps to validate plan changes. */
    async billingSubscriptionFacts(input: { tenantId: string; subscriptionId: string }): Promise<SubscriptionFacts> {
      return ledger(() => subscriptionFacts(db, input.tenantId, input.subscriptionId));
    },

    /** Changes the plan now, prorated, with its adjustment invoice or credit note; once per request. */
    async billingChangePlan(input: { tenantId: string; subscriptionId: string; planId: string; requestId: string }): Promise<PlanChange> {
      return ledger(() => changePlan(db, { ...input, now: now() }));
    },

    /** Issues a credit note (numbered at once, own series); the same key returns the first one. */
    async billingIssueCreditNote(input: Omit<CreditNoteInput, 'now'>): Promise<{ creditNoteId: string; number: string }> {
      const out = await ledger(() => issueCreditNote(db, { ...input, now: now() }));
      return { creditNoteId: out.creditNoteId, number: out.number };
    },

    /** Renders the credit note's PDF (once) and records its email to the invoice's billing contact. */
    async billingPrepareCreditNoteEmail(input: { tenantId: string; creditNoteId: string }): Promise<{ emailId: string | null }> {
      const fileId = await renderCreditNotePdf(db, input.tenantId, input.creditNoteId);
      const [note] = await db.select().from(creditNotes).where(and(eq(creditNotes.tenantId, input.tenantId), eq(creditNotes.id, input.creditNoteId)));
      if (!note || !fileId) throw ApplicationFailure.create({ type: 'BillingNotFound', message: 'credit note not found', nonRetryable: true });
      let to = note.customerSnapshot?.email ?? null;
      if (!to) {
        const [c] = await db.select({ email: customerContacts.email }).from(customerContacts).where(and(eq(customerContacts.customerId, note.customerId), eq(customerContacts.isBilling, true)));
        to = c?.email ?? null;
      }
      if (!to) return { emailId: null };
      const [seller] = await db.select({ legalName: billingSettings.legalName }).from(billingSettings).where(eq(billingSettings.tenantId, input.tenantId));
      const { emailId } = await enqueueEmail(db, {
        tenantId: input.tenantId,
        kind: 'credit_note',
        key: note.id,
        to: [to],
        subject: `Credit note ${note.number} from ${seller?.legalName || 'us'}`,
        text: `Hello ${note.customerSnapshot?.name ?? ''},\n\nplease find attached credit note ${note.number} for ${formatMoney(note.totalMinor, note.currency)}.\nReason: ${note.reason}\n`,
        attachments: [{ fileId, filename: invoiceFilename(note.number!) }],
        resource: `credit_note:${note.id}`,
      });
      return { emailId };
    },
  };
}

export type BillingActivities = ReturnType<typeof createBillingActivities>;

/**
 * Billing's side of an order (`OrderActivityDeps`): its first invoice, drafted and numbered once
 * per order, and the credit note that undoes it, once per order. The order run renders and
 * emails both as it does every invoice (`issueInvoices`, `issueCreditNote`).
 */
export function createOrderBilling({ db, now = () => new Date() }: Pick<BillingDeps, 'db' | 'now'>) {
  return {
    invoiceOrder: (input: { tenantId: string; orderId: string }) => ledger(() => invoiceOrder(db, input.tenantId, input.orderId, now())),
    creditOrder: (input: { tenantId: string; orderId: string; invoiceId: string; reason: string }) => ledger(() => creditOrder(db, { ...input, now: now() })),
  };
}
