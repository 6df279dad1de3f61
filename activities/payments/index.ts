import type { KeyRing } from '@keelson/common/codec';
import { DunningSignal, WorkflowId, WorkflowType, type InvoicePaidSignal } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { runForTenant } from '@keelson/common/tenant-scope';
import type { Database, Executor } from '@keelson/db';
import { billingSettings, customerContacts, invoices, paymentAttempts, payments, stripeCustomers } from '@keelson/db/schema';
import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { and, asc, eq, inArray, lt } from 'drizzle-orm';
import Stripe from 'stripe';
import { LedgerError } from '../billing/ledger';
import { invoiceBalance, recordPayment } from '../billing/payments-ledger';
import { formatMoney } from '../billing/pdf';
import { enqueueEmail } from '../mail/outbox';
import { organizationStripe, outcomeOfIntent, type ChargeOutcome } from './stripe';

export { HARD_DECLINE_CODES, organizationStripe, outcomeOfIntent, stripeClient, STRIPE_API_URL, type ChargeOutcome } from './stripe';

/** The signal a PaymentIntent's run (`payment-intent/<tenant>/<id>`) takes: "look at it again". */
export const PAYMENT_INTENT_SIGNAL = 'paymentIntentEvent';
/** Sent to `dunning/<invoice>` when a payment settles the invoice (the dunning ladder's own signal). */
export const INVOICE_PAID_SIGNAL = DunningSignal.invoicePaid;
export const PAYMENT_OPERATION = 'billing.payment';

export interface PaymentIntentSignal {
  /** `webhook:<event id>`, `charge`, `reconcile`. */
  source: string;
}

export interface PaymentDeps {
  db: Database;
  keys: KeyRing;
  /** Stripe's API base URL (stripe-mock in tests and in `npm run dev`). */
  stripeApiUrl?: string;
  /** For handing settled payments to their PaymentIntent's run and telling dunning ladders. */
  temporal: Client;
  taskQueue: string;
  now?: () => Date;
}

export interface ChargeResult {
  outcome: ChargeOutcome;
  attempt: number;
  paymentIntentId: string | null;
  declineCode: string | null;
  message: string | null;
  /** The invoice owed nothing when asked: no charge was made. */
  alreadyPaid: boolean;
}

export interface SyncResult {
  /** `settled`: recorded as a payment; `open`: still on its way; `declined`; `unknown`: not an attempt of Keelson's. */
  state: 'settled' | 'open' | 'declined' | 'unknown';
  paymentId: string | null;
  invoiceId: string | null;
  /** The invoice is paid (now or before): its dunning ladder may end. */
  invoicePaid: boolean;
  paymentCreated: boolean;
}

const nonRetryable = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });


/**
 * Hands a PaymentIntent to its run (signal-with-start): the run reads it from Stripe and records
 * it. Used by the webhook endpoint and by a charge that succeeded at once.
 */
export async function signalPaymentIntent(temporal: Client, taskQueue: string, input: { tenantId: string; paymentIntentId: string; source: string; actor: string }) {
  await runForTenant(input.tenantId, () =>
    temporal.workflow.signalWithStart(WorkflowType.paymentIntentSync, {
      taskQueue,
      workflowId: WorkflowId.paymentIntent(input.tenantId, input.paymentIntentId),
      args: [{ tenantId: input.tenantId, actor: input.actor, paymentIntentId: input.paymentIntentId }],
      signal: PAYMENT_INTENT_SIGNAL,
      signalArgs: [{ source: input.source } satisfies PaymentIntentSignal],
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: runSearchAttributes({ tenantId: input.tenantId, operation: PAYMENT_OPERATION, resources: [`payment-intent:${input.paymentIntentId}`], actor: input.actor }),
    }),
  );
}

/**
 * Payments through Stripe: off-session charges of invoices with Keelson's own attempt rows, reading
 * a PaymentIntent back and recording it in the ledger once, receipts, telling dunning, and the
 * list of attempts reconciliation looks at again (decision 0026).
 */
export function createPaymentActivities(deps: PaymentDeps) {
  const { db, keys } = deps;
  const now = deps.now ?? (() => new Date());
  const stripeOf = (tenantId: string) => organizationStripe(db, keys, tenantId, deps.stripeApiUrl);

  /** Reads the PaymentIntent from Stripe and records what it says; safe to repeat. */
  async function syncIntent(tenantId: string, paymentIntentId: string, recordedBy: string): Promise<SyncResult> {
    const none: SyncResult = { state: 'unknown', paymentId: null, invoiceId: null, invoicePaid: false, paymentCreated: false };
    const org = await stripeOf(tenantId);
    if (!org) return none;
    const [attempt] = await db
      .select()
      .from(paymentAttempts)
      .where(and(eq(paymentAttempts.tenantId, tenantId), eq(paymentAttempts.paymentIntentId, paymentIntentId)))
      .orderBy(asc(paymentAttempts.attempt))
      .limit(1);
    if (!attempt) return none;
    const pi = await org.stripe.paymentIntents.retrieve(paymentIntentId);
    const seen = outcomeOfIntent(pi);
    const setAttempt = (status: typeof attempt.status, declineCode: string | null = null, message: string | null = null) =>
      db.update(paymentAttempts).set({ status, declineCode, message, updatedAt: now() }).where(and(eq(paymentAttempts.id, attempt.id), inArray(paymentAttempts.status, ['pending', 'processing'])));
    if (seen.outcome === 'succeeded') return recordSucceeded(db, tenantId, attempt, pi, recordedBy);
    if (seen.outcome === 'processing' || seen.outcome === 'open') {
      await setAttempt('processing');
      return { ...none, state: 'open', invoiceId: attempt.invoiceId };
    }
    // Declined. An attempt Keelson itself saw succeed never goes back (the guard on the update).
    await setAttempt(seen.outcome as 'soft_decline' | 'hard_decline', seen.declineCode, seen.message);
    return { ...none, state: 'declined', invoiceId: attempt.invoiceId };
  }

  /** A succeeded PaymentIntent into the ledger (once: unique on the PaymentIntent), its attempt marked. */
  async function recordSucceeded(ex: Executor, tenantId: string, attempt: typeof paymentAttempts.$inferSelect, pi: Stripe.PaymentIntent, recordedBy: string): Promise<SyncResult> {
    {
      const amount = pi.amount_received || pi.amount;
      const recorded = await recordPayment(ex, {
        tenantId,
        invoiceId: attempt.invoiceId,
        provider: 'stripe',
        providerPaymentId: pi.id,
        method: 'card',
        amountMinor: amount,
        currency: pi.currency,
        reference: typeof pi.latest_charge === 'string' ? pi.latest_charge : (pi.latest_charge?.id ?? null),
        receivedAt: now(),
        recordedBy,
        strict: false,
      });
      await ex.update(paymentAttempts).set({ status: 'succeeded', declineCode: null, message: null, updatedAt: now() }).where(and(eq(paymentAttempts.id, attempt.id), inArray(paymentAttempts.status, ['pending', 'processing'])));
      return { state: 'settled', paymentId: recorded.paymentId, invoiceId: recorded.invoiceId, invoicePaid: recorded.invoiceStatus === 'paid', paymentCreated: recorded.created };
    }
  }

  return {
    /**
     * Charges the invoice's balance to the customer's saved card, off-session. Attempt `n` of an
     * invoice is one row (unique) and one Idempotency-Key, `invoice/<id>/attempt/<n>`: a retried
     * activity asks Stripe with the same key and gets the same PaymentIntent. A card declined
     * for good is never charged again, whatever attempt asks.
     */
    async billingChargeInvoice(input: { tenantId: string; invoiceId: string; attempt: number }): Promise<ChargeResult> {
      const { tenantId, invoiceId, attempt } = input;
      if (!Number.isInteger(attempt) || attempt < 1) throw nonRetryable('BillingInvalid', 'attempt: must be a whole number from 1');
      let balance;
      try {
        balance = await invoiceBalance(db, tenantId, invoiceId);
      } catch (err) {
        if (err instanceof LedgerError) throw nonRetryable('BillingNotFound', err.message);
        throw err;
      }
      const result = (outcome: ChargeOutcome, extra: Partial<ChargeResult> = {}): ChargeResult => ({ outcome, attempt, paymentIntentId: null, declineCode: null, message: null, alreadyPaid: false, ...extra });
      if (balance.status === 'paid' || balance.balanceMinor <= 0) return result('succeeded', { alreadyPaid: true, message: 'the invoice owes nothing' });
      if (balance.status !== 'finalized') throw nonRetryable('BillingConflict', `cannot charge an invoice that is ${balance.status}`);

      const key = `invoice/${invoiceId}/attempt/${attempt}`;
      const [existing] = await db.select().from(paymentAttempts).where(and(eq(paymentAttempts.invoiceId, invoiceId), eq(paymentAttempts.kind, 'off_session'), eq(paymentAttempts.attempt, attempt)));
      if (existing && existing.tenantId !== tenantId) throw nonRetryable('BillingNotFound', 'invoice not found');
      if (existing && existing.status !== 'pending') {
        // Asked again (a retried step, a replayed ladder): the answer it had.
        return result(existing.status === 'processing' ? 'processing' : (existing.status as ChargeOutcome), { paymentIntentId: existing.paymentIntentId, declineCode: existing.declineCode, message: existing.message });
      }

      const org = await stripeOf(tenantId);
      const [card] = await db.select().from(stripeCustomers).where(and(eq(stripeCustomers.tenantId, tenantId), eq(stripeCustomers.customerId, balance.customerId)));
      if (!org || !card?.paymentMethodId) {
        await db
          .insert(paymentAttempts)
          .values({ tenantId, invoiceId, customerId: balance.customerId, attempt, idempotencyKey: key, amountMinor: balance.balanceMinor, currency: balance.currency, status: 'no_payment_method', message: org ? 'the customer has no saved card' : 'the organization has no Stripe account' })
          .onConflictDoNothing();
        return result('no_payment_method', { message: org ? 'the customer has no saved card' : 'the organization has no Stripe account' });
      }
      const [hard] = await db
        .select({ attempt: paymentAttempts.attempt, declineCode: paymentAttempts.declineCode })
        .from(paymentAttempts)
        .where(and(eq(paymentAttempts.invoiceId, invoiceId), eq(paymentAttempts.status, 'hard_decline'), eq(paymentAttempts.paymentMethodId, card.paymentMethodId)))
        .limit(1);
      if (hard) {
        await db
          .insert(paymentAttempts)
          .values({ tenantId, invoiceId, customerId: balance.customerId, attempt, idempotencyKey: key, paymentMethodId: card.paymentMethodId, amountMinor: balance.balanceMinor, currency: balance.currency, status: 'hard_decline', declineCode: hard.declineCode, message: `not retried: attempt ${hard.attempt} was declined for good` })
          .onConflictDoNothing();
        return result('hard_decline', { declineCode: hard.declineCode, message: `not retried: attempt ${hard.attempt} was declined for good` });
      }

      // The row first: if the worker dies after Stripe answered, reconciliation still finds it.
      if (!existing) {
        await db
          .insert(paymentAttempts)
          .values({ tenantId, invoiceId, customerId: balance.customerId, attempt, idempotencyKey: key, paymentMethodId: card.paymentMethodId, amountMinor: balance.balanceMinor, currency: balance.currency })
          .onConflictDoNothing();
      }
      const thisAttempt = and(eq(paymentAttempts.invoiceId, invoiceId), eq(paymentAttempts.kind, 'off_session'), eq(paymentAttempts.attempt, attempt));
      // The attempt's row stays locked while Stripe is asked, so two callers of the same attempt
      // (a retried activity overlapping a slow one) never both charge: the second waits and reads
      // the first one's answer. A worker that dies mid-call leaves the row pending without a
      // PaymentIntent; the retry asks again with the same Idempotency-Key, which Stripe answers
      // with the same PaymentIntent for 24 hours.
      const settled = await db.transaction(async (tx) => {
        const [row] = await tx.select().from(paymentAttempts).where(thisAttempt).for('update');
        if (!row) throw new Error(`attempt ${key} vanished`);
        if (row.status !== 'pending') {
          return { answer: result(row.status === 'processing' ? 'processing' : (row.status as ChargeOutcome), { paymentIntentId: row.paymentIntentId, declineCode: row.declineCode, message: row.message }), pi: null };
        }
        let pi: Stripe.PaymentIntent;
        try {
          pi = row.paymentIntentId
            ? await org.stripe.paymentIntents.retrieve(row.paymentIntentId)
            : await org.stripe.paymentIntents.create(
                {
                  amount: row.amountMinor,
                  currency: row.currency.toLowerCase(),
                  customer: card.stripeCustomerId,
                  payment_method: card.paymentMethodId!,
                  off_session: true,
                  confirm: true,
                  metadata: { keelson_tenant: tenantId, keelson_invoice: invoiceId, keelson_attempt: String(attempt) },
                },
                { idempotencyKey: key },
              );
        } catch (err) {
          if (err instanceof Stripe.errors.StripeCardError) {
            const code = err.decline_code ?? err.code ?? null;
            const failed = err.payment_intent as Stripe.PaymentIntent | undefined;
            const outcome = outcomeOfIntent({ status: 'requires_payment_method', last_payment_error: { type: 'card_error', code: err.code, decline_code: err.decline_code, message: err.message } as Stripe.PaymentIntent.LastPaymentError }).outcome as ChargeOutcome;
            await tx.update(paymentAttempts).set({ status: outcome, paymentIntentId: failed?.id ?? null, declineCode: code, message: err.message, updatedAt: now() }).where(eq(paymentAttempts.id, row.id));
            return { answer: result(outcome, { paymentIntentId: failed?.id ?? null, declineCode: code, message: err.message }), pi: null };
          }
          if (err instanceof Stripe.errors.StripeInvalidRequestError || err instanceof Stripe.errors.StripeAuthenticationError || err instanceof Stripe.errors.StripePermissionError) {
            throw nonRetryable('StripeRefused', `Stripe refused the charge: ${err.message}`);
          }
          throw err; // network, rate limit, Stripe's own errors: retried with the same key
        }
        const seen = outcomeOfIntent(pi);
        if (seen.outcome === 'succeeded') {
          await tx.update(paymentAttempts).set({ paymentIntentId: pi.id, updatedAt: now() }).where(eq(paymentAttempts.id, row.id));
          await recordSucceeded(tx, tenantId, { ...row, paymentIntentId: pi.id }, pi, 'charge');
          return { answer: result('succeeded', { paymentIntentId: pi.id }), pi };
        }
        const status = seen.outcome === 'open' ? 'processing' : seen.outcome;
        await tx.update(paymentAttempts).set({ paymentIntentId: pi.id, status, declineCode: seen.declineCode, message: seen.message, updatedAt: now() }).where(eq(paymentAttempts.id, row.id));
        return { answer: result(status, { paymentIntentId: pi.id, declineCode: seen.declineCode, message: seen.message }), pi: null };
      });
      if (settled.pi) {
        // Its run reads it again, emails the receipt and tells dunning: the webhook's path.
        await signalPaymentIntent(deps.temporal, deps.taskQueue, { tenantId, paymentIntentId: settled.pi.id, source: 'charge', actor: 'charge' });
      }
      return settled.answer;
    },

    /** Reads a PaymentIntent back from Stripe and records it (the ledger takes it once). */
    async paymentsSyncIntent(input: { tenantId: string; paymentIntentId: string; recordedBy: string }): Promise<SyncResult> {
      try {
        return await syncIntent(input.tenantId, input.paymentIntentId, input.recordedBy);
      } catch (err) {
        if (err instanceof LedgerError) throw nonRetryable(`Billing${err.kind === 'not_found' ? 'NotFound' : err.kind === 'conflict' ? 'Conflict' : 'Invalid'}`, err.message);
        if (err instanceof Stripe.errors.StripeInvalidRequestError || err instanceof Stripe.errors.StripeAuthenticationError) throw nonRetryable('StripeRefused', err.message);
        throw err;
      }
    },

    /** Records the payment's receipt email (kind `payment.receipt`, key the payment id: once per payment). */
    async paymentsPrepareReceipt(input: { tenantId: string; paymentId: string }): Promise<{ emailId: string | null }> {
      const [p] = await db
        .select({ payment: payments, number: invoices.number, snapshot: invoices.customerSnapshot })
        .from(payments)
        .leftJoin(invoices, eq(invoices.id, payments.invoiceId))
        .where(and(eq(payments.tenantId, input.tenantId), eq(payments.id, input.paymentId)));
      if (!p) throw nonRetryable('BillingNotFound', 'payment not found');
      let to = p.snapshot?.email ?? null;
      if (!to) {
        const [c] = await db.select({ email: customerContacts.email }).from(customerContacts).where(and(eq(customerContacts.customerId, p.payment.customerId), eq(customerContacts.isBilling, true)));
        to = c?.email ?? null;
      }
      if (!to) return { emailId: null };
      const [seller] = await db.select({ legalName: billingSettings.legalName }).from(billingSettings).where(eq(billingSettings.tenantId, input.tenantId));
      const from = seller?.legalName || 'us';
      const pay = p.payment;
      const credit = pay.amountMinor - pay.appliedMinor;
      const { emailId } = await enqueueEmail(db, {
        tenantId: input.tenantId,
        kind: 'payment.receipt',
        key: pay.id,
        to: [to],
        subject: `Payment received${p.number ? ` for invoice ${p.number}` : ''}`,
        text:
          `Hello ${p.snapshot?.name ?? ''},\n\nwe received your payment of ${formatMoney(pay.amountMinor, pay.currency)}` +
          `${p.number ? ` for invoice ${p.number}` : ''} on ${pay.receivedAt.toISOString().slice(0, 10)}` +
          `${pay.reference ? ` (reference ${pay.reference})` : ''}.` +
          `${credit > 0 ? `\n${formatMoney(credit, pay.currency)} more than the invoice owed is kept as credit for your next invoice.` : ''}` +
          `\n\nThank you,\n${from}\n`,
        resource: pay.invoiceId ? `invoice:${pay.invoiceId}` : undefined,
      });
      return { emailId };
    },

    /** Tells the invoice's dunning ladder it is paid; no ladder running is fine. */
    async paymentsNotifyDunning(input: { tenantId: string; invoiceId: string; paymentId: string | null }): Promise<{ notified: boolean }> {
      try {
        await runForTenant(input.tenantId, () => deps.temporal.workflow.getHandle(WorkflowId.dunning(input.invoiceId)).signal<[InvoicePaidSignal]>(INVOICE_PAID_SIGNAL, input.paymentId ? { paymentId: input.paymentId } : {}));
        return { notified: true };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return { notified: false };
        throw err;
      }
    },

    /** Attempts still open (pending or processing) and older than `minAgeMs`: reconciliation reads each again. */
    async paymentsOpenAttempts(input: { tenantId: string; minAgeMs: number; limit?: number }): Promise<string[]> {
      const rows = await db
        .selectDistinct({ paymentIntentId: paymentAttempts.paymentIntentId })
        .from(paymentAttempts)
        .where(and(eq(paymentAttempts.tenantId, input.tenantId), inArray(paymentAttempts.status, ['pending', 'processing']), lt(paymentAttempts.createdAt, new Date(now().getTime() - input.minAgeMs))))
        .limit(input.limit ?? 500);
      return rows.map((r) => r.paymentIntentId).filter((id): id is string => id !== null);
    },
  };
}

export type PaymentActivities = ReturnType<typeof createPaymentActivities>;
