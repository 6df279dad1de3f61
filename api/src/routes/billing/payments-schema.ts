import { z } from '@hono/zod-openapi';
import { MANUAL_PAYMENT_METHODS } from '@keelson/db/schema';

/** Payments' request and response shapes (decision 0026); the web app derives its types from them. */

const Minor = z.number().int('must be a whole number of minor units').positive().max(Number.MAX_SAFE_INTEGER);

export const PaymentSchema = z
  .object({
    id: z.string(),
    invoiceId: z.string().nullable(),
    customerId: z.string(),
    provider: z.string(),
    method: z.string(),
    amountMinor: z.number().int(),
    appliedMinor: z.number().int(),
    creditMinor: z.number().int(),
    currency: z.string(),
    reference: z.string().nullable(),
    receivedAt: z.string(),
    recordedBy: z.string(),
  })
  .openapi('Payment');

export const InvoicePaymentsSchema = z
  .object({
    invoiceId: z.string(),
    status: z.string(),
    currency: z.string(),
    totalMinor: z.number().int(),
    creditedMinor: z.number().int(),
    paidMinor: z.number().int(),
    creditAppliedMinor: z.number().int(),
    refundedMinor: z.number().int(),
    balanceMinor: z.number().int(),
    customerCreditMinor: z.number().int(),
    payments: z.array(PaymentSchema),
  })
  .openapi('InvoicePayments');

export const RecordedSchema = InvoicePaymentsSchema.extend({ created: z.boolean(), paymentId: z.string() }).openapi('RecordedPayment');

export const ManualPaymentBody = z
  .object({
    amountMinor: Minor,
    method: z.enum(MANUAL_PAYMENT_METHODS),
    reference: z.string().trim().min(1, 'the bank reference or receipt number').max(200),
    receivedAt: z.iso.datetime({ offset: true }).optional(),
    key: z.string().min(1).max(200).optional().openapi({ description: 'The same key records the payment once' }),
  })
  .openapi('ManualPaymentBody');

export const StripeSettingsSchema = z
  .object({
    configured: z.boolean(),
    secretKey: z.string().nullable().openapi({ description: 'Masked: only its last four characters' }),
    webhookSecret: z.string().nullable(),
    publishableKey: z.string().nullable(),
    webhookUrl: z.string(),
    updatedAt: z.string().nullable(),
  })
  .openapi('StripeSettings');

export const StripeSettingsBody = z
  .object({
    secretKey: z.string().regex(/^(sk|rk)_(test|live)_[A-Za-z0-9_]{4,}$/, 'a Stripe secret key (sk_… or rk_…)').max(300),
    webhookSecret: z.string().regex(/^whsec_[A-Za-z0-9_+/=]{4,}$/, 'a webhook signing secret (whsec_…)').max(300),
    publishableKey: z.string().regex(/^pk_(test|live)_[A-Za-z0-9_]{4,}$/, 'a publishable key (pk_…)').max(300).nullable().optional(),
  })
  .openapi('StripeSettingsBody');

export const CheckoutSchema = z
  .object({ paymentIntentId: z.string(), clientSecret: z.string(), publishableKey: z.string().nullable(), amountMinor: z.number().int(), currency: z.string() })
  .openapi('Checkout');
export const SavedCardChargeSchema = z
  .object({
    outcome: z.enum(['succeeded', 'processing', 'declined', 'requires_action']).openapi({ description: 'succeeded/processing: the payment is recorded by its run within seconds; declined: see message; requires_action: the bank wants the customer to authenticate (Stripe.js)' }),
    paymentIntentId: z.string().nullable(),
    attempt: z.number().int(),
    message: z.string().nullable(),
    amountMinor: z.number().int(),
    currency: z.string(),
    card: z.object({ brand: z.string(), last4: z.string() }),
  })
  .openapi('SavedCardCharge');
export const CardSchema = z
  .object({ card: z.object({ brand: z.string(), last4: z.string(), expMonth: z.number().int().nullable(), expYear: z.number().int().nullable(), updatedAt: z.string() }).nullable() })
  .openapi('SavedCard');
export const SetupSchema = z.object({ setupIntentId: z.string(), clientSecret: z.string(), publishableKey: z.string().nullable() }).openapi('CardSetup');
export const CardBody = z.object({ paymentMethodId: z.string().regex(/^pm_[A-Za-z0-9_]+$/, 'a Stripe payment method id (pm_…)').max(255) }).openapi('CardBody');

export const RefundBody = z
  .object({
    amountMinor: Minor,
    reason: z.string().trim().min(1, 'say why').max(500),
    key: z.string().min(1).max(200).optional().openapi({ description: 'The same key issues one credit note and one refund' }),
  })
  .openapi('RefundBody');
export const RefundedSchema = InvoicePaymentsSchema.extend({ refundId: z.string(), created: z.boolean(), creditNoteId: z.string(), creditNoteNumber: z.string(), providerRefundId: z.string().nullable() }).openapi('Refunded');
