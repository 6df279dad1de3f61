import { decryptSecret, type KeyRing } from '@keelson/common/codec';
import type { Executor } from '@keelson/db';
import { stripeSettings } from '@keelson/db/schema';
import { eq } from 'drizzle-orm';
import Stripe from 'stripe';

/** Stripe's own API; the embedded default and the tests name stripe-mock instead (KEELSON_STRIPE_API_URL). */
export const STRIPE_API_URL = 'https://api.stripe.com';

/**
 * A Stripe client for one secret key, talking to `apiUrl` (Stripe, or stripe-mock). No network
 * retries inside the client: callers are Temporal activities that retry with their own policy,
 * and every write carries an Idempotency-Key, so a retry never charges twice.
 */
export function stripeClient(secretKey: string, apiUrl: string = STRIPE_API_URL): Stripe {
  const url = new URL(apiUrl);
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return new Stripe(secretKey, {
    host: url.hostname,
    port: url.port || (protocol === 'http' ? 80 : 443),
    protocol,
    maxNetworkRetries: 0,
    timeout: 20_000,
    appInfo: { name: 'Keelson' },
  });
}

export interface OrganizationStripe {
  stripe: Stripe;
  webhookSecret: string;
  publishableKey: string | null;
}

/** The organization's Stripe account, its secrets opened; null when it has none. */
export async function organizationStripe(db: Executor, keys: KeyRing, tenantId: string, apiUrl?: string): Promise<OrganizationStripe | null> {
  const [row] = await db.select().from(stripeSettings).where(eq(stripeSettings.tenantId, tenantId));
  if (!row) return null;
  return {
    stripe: stripeClient(decryptSecret(keys, row.secretKeySealed), apiUrl),
    webhookSecret: decryptSecret(keys, row.webhookSecretSealed),
    publishableKey: row.publishableKey,
  };
}

/**
 * Card decline codes that no retry can turn into a payment (Stripe's decline code reference):
 * the card is gone, blocked or not the customer's. Anything else (insufficient funds, a generic
 * decline, authentication required, a processing error) is soft: the ladder may try again.
 */
export const HARD_DECLINE_CODES = new Set([
  'card_not_supported',
  'currency_not_supported',
  'do_not_honor',
  'do_not_try_again',
  'expired_card',
  'fraudulent',
  'incorrect_number',
  'invalid_account',
  'invalid_number',
  'lost_card',
  'merchant_blacklist',
  'new_account_information_available',
  'no_action_taken',
  'not_permitted',
  'pickup_card',
  'restricted_card',
  'revocation_of_all_authorizations',
  'revocation_of_authorization',
  'security_violation',
  'service_not_allowed',
  'stolen_card',
  'stop_payment_order',
  'transaction_not_allowed',
]);

export type ChargeOutcome = 'succeeded' | 'processing' | 'soft_decline' | 'hard_decline' | 'no_payment_method';

/** What a PaymentIntent's status means for an attempt. */
export function outcomeOfIntent(pi: Pick<Stripe.PaymentIntent, 'status' | 'last_payment_error'>): { outcome: ChargeOutcome | 'open'; declineCode: string | null; message: string | null } {
  const err = pi.last_payment_error;
  const code = err?.decline_code ?? err?.code ?? null;
  switch (pi.status) {
    case 'succeeded':
      return { outcome: 'succeeded', declineCode: null, message: null };
    case 'processing':
      return { outcome: 'processing', declineCode: null, message: null };
    case 'requires_action':
      return { outcome: 'soft_decline', declineCode: 'authentication_required', message: 'the card needs the customer to authenticate' };
    case 'requires_payment_method':
    case 'canceled':
      return { outcome: code && HARD_DECLINE_CODES.has(code) ? 'hard_decline' : 'soft_decline', declineCode: code, message: err?.message ?? `the payment is ${pi.status}` };
    default:
      return { outcome: 'open', declineCode: null, message: null };
  }
}
