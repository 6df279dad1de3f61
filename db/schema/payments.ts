import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { creditNotes, customers, invoices } from './billing';
import { tenants } from './tenancy';

/**
 * Payments (docs/decisions/0026-payments.md): the organization's Stripe account, customers' saved
 * cards, Keelson's own record of every charge attempt, the ledger of money received and refunded,
 * customer credit applied to invoices, and every Stripe webhook event once. Money is integer minor
 * units beside an ISO 4217 currency. Balances are never stored: an invoice's is its total less its
 * credit notes, the payments and credit applied to it, plus refunds; a customer's credit is the
 * unapplied part of their payments less the credit applied elsewhere.
 */

const money = (name: string) => bigint(name, { mode: 'number' });
const ts = (name: string) => timestamp(name, { withTimezone: true });

export const PAYMENT_PROVIDERS = ['stripe', 'manual'] as const;
export type PaymentProvider = (typeof PAYMENT_PROVIDERS)[number];

export const PAYMENT_METHODS = ['card', 'bank_transfer', 'cash', 'other'] as const;
export type PaymentMethod = (typeof PAYMENT_METHODS)[number];
/** What billing staff may record by hand. */
export const MANUAL_PAYMENT_METHODS = ['bank_transfer', 'cash', 'other'] as const;

/** The organization's Stripe account: both secrets sealed with the key ring, never returned. */
export const stripeSettings = pgTable('stripe_settings', {
  tenantId: uuid('tenant_id')
    .primaryKey()
    .references(() => tenants.id, { onDelete: 'cascade' }),
  secretKeySealed: text('secret_key_sealed').notNull(),
  /** The last four characters of the secret key, to show it masked. */
  secretKeyHint: text('secret_key_hint').notNull(),
  /** `whsec_…`: verifies `Stripe-Signature` on the organization's webhook endpoint. */
  webhookSecretSealed: text('webhook_secret_sealed').notNull(),
  /** `pk_…`: public; the portal's card form needs it. */
  publishableKey: text('publishable_key'),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

/** A Keelson customer's Stripe customer and the card saved for off-session charges. */
export const stripeCustomers = pgTable(
  'stripe_customers',
  {
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    customerId: uuid('customer_id')
      .notNull()
      .references(() => customers.id, { onDelete: 'cascade' }),
    stripeCustomerId: text('stripe_customer_id').notNull(),
    paymentMethodId: text('payment_method_id'),
    cardBrand: text('card_brand'),
    cardLast4: text('card_last4'),
    cardExpMonth: integer('card_exp_month'),
    cardExpYear: integer('card_exp_year'),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.customerId] })],
);

export const ATTEMPT_STATUSES = [
  /** Recorded before Stripe was asked: whether it charged is unknown until it is read back. */
  'pending',
  /** Stripe accepted it and is still working (reconciliation reads it again). */
  'processing',
  'succeeded',
  /** Declined in a way a later retry may pass (insufficient funds, authentication required…). */
  'soft_decline',
  /** Declined for good (stolen card, closed account…): never retried. */
  'hard_decline',
  /** Nothing to charge with: no Stripe account or no saved card. */
  'no_payment_method',
] as const;
export type AttemptStatus = (typeof ATTEMPT_STATUSES)[number];

export const ATTEMPT_KINDS = [
  /** The dunning ladder's charge of the saved card; Idempotency-Key `invoice/<id>/attempt/<n>`. */
  'off_session',
  /** The customer's "Pay now" in the portal: a PaymentIntent their browser confirms; `invoice/<id>/checkout/<n>`. */
  'checkout',
  /** The customer's "Pay now" with the card on file, confirmed by Keelson for them; `invoice/<id>/saved-card/<n>`. */
  'saved_card',
] as const;
export type AttemptKind = (typeof ATTEMPT_KINDS)[number];

/**
 * One charge attempt of an invoice, Keelson's own record: Stripe forgets idempotency keys after
 * 24 hours, this row does not. Unique per (invoice, kind, attempt) and per Idempotency-Key.
 */
export const paymentAttempts = pgTable(
  'payment_attempts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    invoiceId: uuid('invoice_id')
      .notNull()
      .references(() => invoices.id, { onDelete: 'cascade' }),
    customerId: uuid('customer_id').notNull(),
    kind: text('kind').$type<AttemptKind>().notNull().default('off_session'),
    attempt: integer('attempt').notNull(),
    idempotencyKey: text('idempotency_key').notNull(),
    provider: text('provider').$type<PaymentProvider>().notNull().default('stripe'),
    paymentIntentId: text('payment_intent_id'),
    paymentMethodId: text('payment_method_id'),
    amountMinor: money('amount_minor').notNull(),
    currency: text('currency').notNull(),
    status: text('status').$type<AttemptStatus>().notNull().default('pending'),
    declineCode: text('decline_code'),
    message: text('message'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('payment_attempts_invoice_id_kind_attempt_idx').on(t.invoiceId, t.kind, t.attempt),
    uniqueIndex('payment_attempts_tenant_id_idempotency_key_idx').on(t.tenantId, t.idempotencyKey),
    index('payment_attempts_payment_intent_id_idx').on(t.paymentIntentId),
    // Reconciliation's question: which attempts are still open?
    index('payment_attempts_tenant_id_open_idx').on(t.tenantId, t.createdAt).where(sql`${t.status} in ('pending', 'processing')`),
  ],
);

/**
 * Money received. One row per provider payment: a Stripe PaymentIntent, or a manual payment's
 * own id (`manual` provider, `<tenant>/<key>`), unique on (provider, provider payment id), so a
 * webhook delivered fifty times, a reconciliation and a charge that all see the same
 * PaymentIntent record it once. `appliedMinor` is the part that went to `invoiceId` (at most what
 * it still owed when recorded); the rest is the customer's credit.
 */
export const payments = pgTable(
  'payments',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    customerId: uuid('customer_id')
      .notNull()
      .references(() => customers.id, { onDelete: 'restrict' }),
    invoiceId: uuid('invoice_id').references(() => invoices.id, { onDelete: 'restrict' }),
    provider: text('provider').$type<PaymentProvider>().notNull(),
    providerPaymentId: text('provider_payment_id').notNull(),
    method: text('method').$type<PaymentMethod>().notNull(),
    amountMinor: money('amount_minor').notNull(),
    appliedMinor: money('applied_minor').notNull(),
    currency: text('currency').notNull(),
    /** The bank transfer's reference, the receipt number of cash… (manual), the charge id (Stripe). */
    reference: text('reference'),
    receivedAt: ts('received_at').notNull(),
    /** Who recorded it: `user:<id>`, `webhook:stripe`, `reconcile`, `charge`. */
    recordedBy: text('recorded_by').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('payments_provider_provider_payment_id_idx').on(t.provider, t.providerPaymentId),
    index('payments_tenant_id_customer_id_idx').on(t.tenantId, t.customerId),
    index('payments_invoice_id_idx').on(t.invoiceId),
  ],
);

/** Customer credit (an earlier overpayment) applied to an invoice, once per key. */
export const creditApplications = pgTable(
  'credit_applications',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    customerId: uuid('customer_id')
      .notNull()
      .references(() => customers.id, { onDelete: 'restrict' }),
    invoiceId: uuid('invoice_id')
      .notNull()
      .references(() => invoices.id, { onDelete: 'restrict' }),
    amountMinor: money('amount_minor').notNull(),
    currency: text('currency').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('credit_applications_tenant_id_customer_id_idx').on(t.tenantId, t.customerId), uniqueIndex('credit_applications_invoice_id_idx').on(t.invoiceId)],
);

/** Money returned: always with the credit note that says why, against one payment. */
export const refunds = pgTable(
  'refunds',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    paymentId: uuid('payment_id')
      .notNull()
      .references(() => payments.id, { onDelete: 'restrict' }),
    invoiceId: uuid('invoice_id').references(() => invoices.id, { onDelete: 'restrict' }),
    creditNoteId: uuid('credit_note_id')
      .notNull()
      .references(() => creditNotes.id, { onDelete: 'restrict' }),
    amountMinor: money('amount_minor').notNull(),
    currency: text('currency').notNull(),
    /** Stripe's refund id (`re_…`) for a card payment; null for money returned by hand. */
    providerRefundId: text('provider_refund_id'),
    reason: text('reason').notNull(),
    recordedBy: text('recorded_by').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('refunds_credit_note_id_idx').on(t.creditNoteId), index('refunds_payment_id_idx').on(t.paymentId)],
);

/** Every Stripe webhook event taken, once: a redelivery hits the unique index and changes nothing. */
export const stripeEvents = pgTable(
  'stripe_events',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    eventId: text('event_id').notNull(),
    type: text('type').notNull(),
    /** The PaymentIntent (or other object) the event is about. */
    objectId: text('object_id'),
    receivedAt: ts('received_at').notNull().defaultNow(),
    /**
     * Recorded, not yet handed to its PaymentIntent's run. The webhook answers once the row is
     * committed and hands it over after; a hand-over that failed or never happened (the API
     * died) is done by the dispatcher, which looks only at these rows.
     */
    handOffPending: boolean('hand_off_pending').notNull().default(false),
  },
  (t) => [
    uniqueIndex('stripe_events_tenant_id_event_id_idx').on(t.tenantId, t.eventId),
    index('stripe_events_hand_off_pending_idx').on(t.receivedAt).where(sql`${t.handOffPending}`),
  ],
);
