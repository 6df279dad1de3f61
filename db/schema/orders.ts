import { sql } from 'drizzle-orm';
import { bigint, boolean, index, jsonb, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { billingCycleEnum, creditNotes, customers, invoices, plans, subscriptions } from './billing';
import { tenants, users } from './tenancy';

/**
 * Quotes and orders: what a customer is offered, and what they bought on the way to a running
 * service. The customers, plans, subscriptions and invoices they point at live in `billing.ts`.
 */

export const QUOTE_STATUSES = [
  /** Being written by staff; the customer does not see it. */
  'draft',
  /** Sent: the customer sees it in the portal and may accept it until `validUntil`. */
  'sent',
  /** Accepted by the customer: it became an order (`orderId`). */
  'accepted',
  /** Declined by the customer. */
  'declined',
  /** Withdrawn by staff before it was accepted. */
  'withdrawn',
] as const;
export type QuoteStatus = (typeof QUOTE_STATUSES)[number];
export const quoteStatusEnum = pgEnum('quote_status', QUOTE_STATUSES);

/** One line of a quote; amounts in minor units of the quote's currency. */
export interface QuoteLine {
  description: string;
  quantity: number;
  unitAmountMinor: number;
  /**
   * The plan this line subscribes to (the service the order provisions); its price per cycle is
   * `unitAmountMinor` — a quote may offer a plan at a price of its own. At most one per quote.
   */
  planId?: string;
}

/**
 * A quote staff write for one customer. Lines are kept as one JSON list (they are only ever read
 * and written with the quote); totals are computed once, in minor units, when it is saved.
 */
export const quotes = pgTable(
  'quotes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    customerId: uuid('customer_id')
      .notNull()
      .references(() => customers.id, { onDelete: 'cascade' }),
    /** `Q-2026-0007`: readable, unique per organization. */
    reference: text('reference').notNull(),
    title: text('title').notNull(),
    currency: text('currency').notNull(),
    /** The plan line's billing cycle. */
    cycle: billingCycleEnum('cycle').notNull(),
    lines: jsonb('lines').$type<QuoteLine[]>().notNull(),
    /** Sum of quantity × unit amount over the lines. */
    totalMinor: bigint('total_minor', { mode: 'number' }).notNull(),
    /** After this instant the customer can no longer accept it. */
    validUntil: timestamp('valid_until', { withTimezone: true }).notNull(),
    notes: text('notes'),
    status: quoteStatusEnum('status').notNull().default('draft'),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    sentAt: timestamp('sent_at', { withTimezone: true }),
    decidedAt: timestamp('decided_at', { withTimezone: true }),
    decidedBy: uuid('decided_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('quotes_tenant_id_reference_idx').on(t.tenantId, t.reference), index('quotes_tenant_id_customer_id_idx').on(t.tenantId, t.customerId)],
);

export const ORDER_STATUSES = [
  /** Recorded; its run is invoicing it. */
  'placed',
  /** Invoiced; its product requires KYC and it waits for the customer's approved identity check. */
  'awaiting_kyc',
  /** Invoiced; waiting for staff to accept it. */
  'awaiting_acceptance',
  /** Accepted; its service is being provisioned. */
  'provisioning',
  /** Provisioned; the subscription runs. */
  'active',
  /** Provisioning failed: nothing was left behind, the subscription is cancelled, what was invoiced credited. */
  'failed',
  /** Rejected by staff (or not accepted in time): cancelled and credited. */
  'rejected',
  /** Cancelled while it ran: cancelled and credited. */
  'canceled',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];
export const orderStatusEnum = pgEnum('order_status', ORDER_STATUSES);

/** What the customer chose for the service when ordering (public keys only: nothing secret). */
export interface OrderServiceOptions {
  /** The VM name / container hostname (an app's name). */
  hostname?: string;
  /** App plans: the DNS name the app is served under. */
  domain?: string;
  /** The admin login created on a VM or container, with its SSH keys. */
  adminUser?: string;
  sshKeys?: string[];
}

/** The resource an order's provisioning made (or was making). */
export interface OrderResource {
  kind: 'guest' | 'container' | 'app';
  id: string;
  /** An app's first release (the deploy the order ran). */
  releaseId?: string;
}

/**
 * One order of one plan by one customer — directly, or by accepting a quote — and its run
 * (`order/<id>`), which invoices it, waits for acceptance, provisions the plan's service and
 * activates its subscription. A quote becomes at most one order.
 */
export const orders = pgTable(
  'orders',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    customerId: uuid('customer_id')
      .notNull()
      .references(() => customers.id, { onDelete: 'restrict' }),
    /** `O-2026-0012`. */
    reference: text('reference').notNull(),
    planId: uuid('plan_id')
      .notNull()
      .references(() => plans.id, { onDelete: 'restrict' }),
    quoteId: uuid('quote_id').references(() => quotes.id, { onDelete: 'restrict' }),
    cycle: billingCycleEnum('cycle').notNull(),
    /** The plan's price per cycle for this order (a quote's price, or the plan's). */
    priceMinor: bigint('price_minor', { mode: 'number' }).notNull(),
    currency: text('currency').notNull(),
    /** One-off lines invoiced with the first invoice (a quote's other lines; the plan's setup fee). */
    oneOffLines: jsonb('one_off_lines').$type<QuoteLine[]>().notNull().default(sql`'[]'::jsonb`),
    serviceOptions: jsonb('service_options').$type<OrderServiceOptions>().notNull().default(sql`'{}'::jsonb`),
    /**
     * Billed on account: the order goes through acceptance without anyone accepting it (an
     * accepted quote, staff ordering for a customer). A customer's own order waits for staff.
     */
    onAccount: boolean('on_account').notNull().default(false),
    status: orderStatusEnum('status').notNull().default('placed'),
    subscriptionId: uuid('subscription_id').references(() => subscriptions.id, { onDelete: 'restrict' }),
    /** The first invoice (setup fee, first period, a quote's one-off lines). */
    invoiceId: uuid('invoice_id').references(() => invoices.id, { onDelete: 'restrict' }),
    /** What credited it when the order failed or was rejected. */
    creditNoteId: uuid('credit_note_id').references(() => creditNotes.id, { onDelete: 'restrict' }),
    resource: jsonb('resource').$type<OrderResource>(),
    lastError: text('last_error'),
    workflowId: text('workflow_id').notNull(),
    /** Who placed it: the customer's user, or staff on their behalf. */
    placedBy: uuid('placed_by').references(() => users.id, { onDelete: 'set null' }),
    decidedBy: text('decided_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('orders_tenant_id_reference_idx').on(t.tenantId, t.reference),
    // A quote becomes one order, however often "accept" is pressed.
    uniqueIndex('orders_quote_id_idx').on(t.quoteId).where(sql`${t.quoteId} is not null`),
    index('orders_tenant_id_customer_id_idx').on(t.tenantId, t.customerId),
  ],
);
