import type { KeyRing } from '@keelson/common/codec';
import type { Database } from '@keelson/db';
import { paymentAttempts, stripeCustomers } from '@keelson/db/schema';
import { and, desc, eq } from 'drizzle-orm';
import Stripe from 'stripe';
import { LedgerError } from '../billing/ledger';
import { invoiceBalance } from '../billing/payments-ledger';
import { HARD_DECLINE_CODES, organizationStripe, outcomeOfIntent } from './stripe';

export interface Checkout {
  paymentIntentId: string;
  clientSecret: string;
  publishableKey: string | null;
  amountMinor: number;
  currency: string;
}

/**
 * "Pay now": a PaymentIntent for the invoice's balance that the customer's browser confirms with
 * Stripe.js. Its attempt row (`checkout`, pending) is written first, so the webhook — or, if that
 * never comes, reconciliation — finds and records it. Asking again while one is open for the same
 * amount returns that one (the same PaymentIntent), so a double click never charges twice.
 */
export async function startCheckout(deps: { db: Database; keys: KeyRing; stripeApiUrl?: string }, tenantId: string, invoiceId: string): Promise<Checkout> {
  const { db } = deps;
  const org = await organizationStripe(db, deps.keys, tenantId, deps.stripeApiUrl);
  if (!org) throw new LedgerError('conflict', 'the organization takes no card payments (no Stripe account)');
  const balance = await invoiceBalance(db, tenantId, invoiceId);
  if (balance.status !== 'finalized' || balance.balanceMinor <= 0) throw new LedgerError('conflict', `nothing to pay: the invoice is ${balance.status}`);
  const [open] = await db
    .select()
    .from(paymentAttempts)
    .where(and(eq(paymentAttempts.tenantId, tenantId), eq(paymentAttempts.invoiceId, invoiceId), eq(paymentAttempts.kind, 'checkout')))
    .orderBy(desc(paymentAttempts.attempt))
    .limit(1);
  if (open?.paymentIntentId && open.status === 'pending' && open.amountMinor === balance.balanceMinor) {
    const pi = await org.stripe.paymentIntents.retrieve(open.paymentIntentId);
    return { paymentIntentId: open.paymentIntentId, clientSecret: pi.client_secret!, publishableKey: org.publishableKey, amountMinor: open.amountMinor, currency: open.currency };
  }
  const attempt = (open?.attempt ?? 0) + 1;
  const key = `invoice/${invoiceId}/checkout/${attempt}`;
  const [card] = await db.select().from(stripeCustomers).where(and(eq(stripeCustomers.tenantId, tenantId), eq(stripeCustomers.customerId, balance.customerId)));
  const [row] = await db
    .insert(paymentAttempts)
    .values({ tenantId, invoiceId, customerId: balance.customerId, kind: 'checkout', attempt, idempotencyKey: key, amountMinor: balance.balanceMinor, currency: balance.currency })
    .onConflictDoNothing()
    .returning({ id: paymentAttempts.id });
  if (!row) throw new LedgerError('conflict', 'another payment of this invoice is being started; try again');
  const pi = await org.stripe.paymentIntents.create(
    {
      amount: balance.balanceMinor,
      currency: balance.currency.toLowerCase(),
      ...(card ? { customer: card.stripeCustomerId } : {}),
      metadata: { keelson_tenant: tenantId, keelson_invoice: invoiceId, keelson_checkout: String(attempt) },
    },
    { idempotencyKey: key },
  );
  await db.update(paymentAttempts).set({ paymentIntentId: pi.id, updatedAt: new Date() }).where(eq(paymentAttempts.id, row.id));
  return { paymentIntentId: pi.id, clientSecret: pi.client_secret!, publishableKey: org.publishableKey, amountMinor: balance.balanceMinor, currency: balance.currency };
}

export interface SavedCardCharge {
  /**
   * `succeeded` or `processing`: Stripe took (or is taking) the money; the PaymentIntent's run
   * records it. `declined`: the card was refused (`message` says why). `requires_action`: the
   * bank wants the customer to authenticate, which only Stripe.js can ask them.
   */
  outcome: 'succeeded' | 'processing' | 'declined' | 'requires_action';
  paymentIntentId: string | null;
  attempt: number;
  message: string | null;
  amountMinor: number;
  currency: string;
  card: { brand: string; last4: string };
}

/**
 * "Pay now" with the card on file: the customer is on the page and asks Keelson to charge the card
 * they saved earlier, so Keelson confirms a PaymentIntent for the balance with that card (no
 * Stripe.js needed). Like the ladder's charges, each try is Keelson's own attempt row (kind
 * `saved_card`, Idempotency-Key `invoice/<id>/saved-card/<n>`) written before Stripe is asked
 * and locked while it is: a double click or a second tab waits and gets the first one's answer,
 * a request that died mid-call is asked again with the same key (the same PaymentIntent), and a
 * charge on its way is never doubled by a new attempt. A declined try lets the next one start.
 */
export async function chargeSavedCard(deps: { db: Database; keys: KeyRing; stripeApiUrl?: string }, tenantId: string, invoiceId: string): Promise<SavedCardCharge> {
  const { db } = deps;
  const org = await organizationStripe(db, deps.keys, tenantId, deps.stripeApiUrl);
  if (!org) throw new LedgerError('conflict', 'the organization takes no card payments (no Stripe account)');
  const balance = await invoiceBalance(db, tenantId, invoiceId);
  if (balance.status !== 'finalized' || balance.balanceMinor <= 0) throw new LedgerError('conflict', `nothing to pay: the invoice is ${balance.status}`);
  const [card] = await db.select().from(stripeCustomers).where(and(eq(stripeCustomers.tenantId, tenantId), eq(stripeCustomers.customerId, balance.customerId)));
  if (!card?.paymentMethodId) throw new LedgerError('conflict', 'no card on file: save a card first');
  const cardShown = { brand: card.cardBrand ?? 'card', last4: card.cardLast4 ?? '' };
  const answer = (row: typeof paymentAttempts.$inferSelect, outcome: SavedCardCharge['outcome']): SavedCardCharge => ({
    outcome,
    paymentIntentId: row.paymentIntentId,
    attempt: row.attempt,
    message: row.message,
    amountMinor: row.amountMinor,
    currency: row.currency,
    card: cardShown,
  });
  const byAttempt = (n: number) => and(eq(paymentAttempts.invoiceId, invoiceId), eq(paymentAttempts.kind, 'saved_card'), eq(paymentAttempts.attempt, n));

  const [last] = await db
    .select()
    .from(paymentAttempts)
    .where(and(eq(paymentAttempts.tenantId, tenantId), eq(paymentAttempts.invoiceId, invoiceId), eq(paymentAttempts.kind, 'saved_card')))
    .orderBy(desc(paymentAttempts.attempt))
    .limit(1);
  // Stripe is taking the money already: wait for it rather than charge again.
  if (last?.status === 'processing') return answer(last, 'processing');
  let attempt = last?.attempt ?? 0;
  if (!last || last.status !== 'pending') {
    attempt++;
    await db
      .insert(paymentAttempts)
      .values({ tenantId, invoiceId, customerId: balance.customerId, kind: 'saved_card', attempt, idempotencyKey: `invoice/${invoiceId}/saved-card/${attempt}`, paymentMethodId: card.paymentMethodId, amountMinor: balance.balanceMinor, currency: balance.currency })
      .onConflictDoNothing();
  }
  return db.transaction(async (tx) => {
    const [row] = await tx.select().from(paymentAttempts).where(byAttempt(attempt)).for('update');
    if (!row || row.tenantId !== tenantId) throw new LedgerError('conflict', 'another payment of this invoice is being started; try again');
    if (row.status === 'processing' || row.status === 'succeeded') return answer(row, row.status);
    if (row.status !== 'pending') return answer(row, row.declineCode === 'authentication_required' ? 'requires_action' : 'declined');
    const set = (patch: Partial<typeof paymentAttempts.$inferInsert>) => tx.update(paymentAttempts).set({ ...patch, updatedAt: new Date() }).where(eq(paymentAttempts.id, row.id));
    let pi: Stripe.PaymentIntent;
    try {
      pi = row.paymentIntentId
        ? await org.stripe.paymentIntents.retrieve(row.paymentIntentId)
        : await org.stripe.paymentIntents.create(
            {
              amount: row.amountMinor,
              currency: row.currency.toLowerCase(),
              customer: card.stripeCustomerId,
              payment_method: row.paymentMethodId ?? card.paymentMethodId!,
              automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
              confirm: true,
              metadata: { keelson_tenant: tenantId, keelson_invoice: invoiceId, keelson_saved_card: String(row.attempt) },
            },
            { idempotencyKey: row.idempotencyKey },
          );
    } catch (err) {
      if (err instanceof Stripe.errors.StripeCardError) {
        const code = err.decline_code ?? err.code ?? null;
        const failed = err.payment_intent as Stripe.PaymentIntent | undefined;
        const hard = code !== null && HARD_DECLINE_CODES.has(code);
        await set({ status: hard ? 'hard_decline' : 'soft_decline', paymentIntentId: failed?.id ?? null, declineCode: code, message: err.message });
        return { ...answer(row, 'declined'), paymentIntentId: failed?.id ?? null, message: err.message };
      }
      throw err; // network or Stripe's own trouble: the row stays pending, the next try asks with the same key
    }
    const seen = outcomeOfIntent(pi);
    if (seen.outcome === 'succeeded' || seen.outcome === 'processing' || seen.outcome === 'open') {
      // The PaymentIntent's run reads it back, records the payment and marks the attempt succeeded.
      await set({ paymentIntentId: pi.id, status: 'processing' });
      return { ...answer(row, seen.outcome === 'succeeded' ? 'succeeded' : 'processing'), paymentIntentId: pi.id };
    }
    await set({ paymentIntentId: pi.id, status: seen.outcome, declineCode: seen.declineCode, message: seen.message });
    const outcome = seen.declineCode === 'authentication_required' ? 'requires_action' : 'declined';
    return { ...answer(row, outcome), paymentIntentId: pi.id, message: seen.message };
  });
}
