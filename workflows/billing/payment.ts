import { condition, log, proxyActivities, setHandler, defineSignal } from '@temporalio/workflow';
import type { MailActivities } from '@keelson/activities/mail/index';
import type { PaymentActivities, PaymentIntentSignal } from '@keelson/activities/payments/index';
import { deliverCalls } from '../mail/send-email';
import type { RunContext } from '../run-context';

/**
 * A Stripe PaymentIntent's run, `payment-intent/<organization>/<id>` (decision 0026). Webhook
 * deliveries, a charge that succeeded at once and reconciliation all signal it (signal-with-start);
 * for each batch of signals it reads the PaymentIntent from Stripe — never trusting an event's
 * copy, so repeated and out-of-order events are harmless — records a succeeded one in the ledger
 * (unique on the PaymentIntent), emails one receipt per payment and tells the invoice's dunning
 * ladder. It ends after a quiet minute; the next signal starts it again.
 */

export const paymentIntentSignal = defineSignal<[PaymentIntentSignal]>('paymentIntentEvent');

export interface PaymentIntentSyncInput extends RunContext {
  paymentIntentId: string;
}

const db = proxyActivities<PaymentActivities>({ startToCloseTimeout: '30s', retry: { initialInterval: '1s', maximumInterval: '1m' } });
const mail = proxyActivities<MailActivities>(deliverCalls);
const QUIET = '1 minute';

export async function paymentIntentSync(input: PaymentIntentSyncInput): Promise<{ reads: number; paymentId: string | null }> {
  let pending: string[] = [];
  setHandler(paymentIntentSignal, (s) => void pending.push(s.source));
  let reads = 0;
  let paymentId: string | null = null;
  for (;;) {
    if (!(await condition(() => pending.length > 0, QUIET))) break;
    const sources = pending;
    pending = [];
    reads++;
    const settled = await settlePaymentIntent(input.tenantId, input.paymentIntentId, sources.join(','));
    paymentId ??= settled.paymentId;
  }
  return { reads, paymentId };
}

/**
 * Reads a PaymentIntent back and settles what it says: the payment recorded once, its receipt
 * sent once (key the payment id), the dunning ladder told when the invoice is paid. Every step
 * is safe to repeat, so the webhook's run and reconciliation may both do it.
 */
export async function settlePaymentIntent(tenantId: string, paymentIntentId: string, source: string): Promise<{ paymentId: string | null; state: string }> {
  const recordedBy = source.startsWith('webhook') ? 'webhook:stripe' : source.split(',')[0]!;
  const synced = await db.paymentsSyncIntent({ tenantId, paymentIntentId, recordedBy });
  if (synced.state !== 'settled' || !synced.paymentId) return { paymentId: null, state: synced.state };
  const { emailId } = await db.paymentsPrepareReceipt({ tenantId, paymentId: synced.paymentId });
  if (emailId) {
    try {
      await mail.deliverEmail({ tenantId, emailId });
    } catch (err) {
      // A refused or unconfigured email does not undo the payment; the invoice page shows it failed.
      log.warn('receipt not sent', { paymentId: synced.paymentId, error: (err as Error).message });
    }
  }
  if (synced.invoicePaid && synced.invoiceId) await db.paymentsNotifyDunning({ tenantId, invoiceId: synced.invoiceId, paymentId: synced.paymentId });
  return { paymentId: synced.paymentId, state: synced.state };
}

export interface PaymentReceiptInput extends RunContext {
  paymentId: string;
}

/** The receipt of a payment recorded by hand (a bank transfer, cash, "mark paid"): sent once, keyed by the payment. */
export async function paymentReceipt(input: PaymentReceiptInput): Promise<{ sent: boolean }> {
  const { emailId } = await db.paymentsPrepareReceipt({ tenantId: input.tenantId, paymentId: input.paymentId });
  if (!emailId) return { sent: false };
  await mail.deliverEmail({ tenantId: input.tenantId, emailId });
  return { sent: true };
}

export interface PaymentsReconcileInput extends RunContext {
  /** Attempts younger than this are left to their webhook (default 5 minutes). */
  minAgeMs?: number;
}

/**
 * Reconciliation (an organization's Schedule, hourly by default): every attempt still pending or
 * processing is read back from Stripe and settled like a webhook would, so an invoice never stays
 * unpaid because its webhook was lost.
 */
export async function paymentsReconcile(input: PaymentsReconcileInput): Promise<{ checked: number; settled: number }> {
  const ids = await db.paymentsOpenAttempts({ tenantId: input.tenantId, minAgeMs: input.minAgeMs ?? 5 * 60_000 });
  let settled = 0;
  for (const id of ids) {
    const out = await settlePaymentIntent(input.tenantId, id, 'reconcile');
    if (out.state === 'settled') settled++;
  }
  return { checked: ids.length, settled };
}
