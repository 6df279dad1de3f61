import type { KeyRing } from '@keelson/common/codec';
import type { Database } from '@keelson/db';
import { paymentAttempts, stripeCustomers } from '@keelson/db/schema';
import { and, desc, eq } from 'drizzle-orm';
import { LedgerError } from '../billing/ledger';
import { invoiceBalance } from '../billing/payments-ledger';
import { organizationStripe } from './stripe';

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
