import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  date,
  foreignKey,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { files } from './files';
import { memberships, tenants } from './tenancy';

/**
 * Billing: customers, the catalog (products and their plans), subscriptions, invoices and credit
 * notes, the counters that number them, and the organization's tax rules. Money is always an
 * integer number of minor units (cents) with an ISO 4217 currency beside it; tax rates are basis
 * points (19 % = 1900). See docs/decisions/0017-billing.md.
 */

const money = (name: string) => bigint(name, { mode: 'number' });
const ts = (name: string) => timestamp(name, { withTimezone: true });

export const CUSTOMER_KINDS = ['individual', 'company'] as const;
export type CustomerKind = (typeof CUSTOMER_KINDS)[number];
export const customerKindEnum = pgEnum('customer_kind', CUSTOMER_KINDS);

export const BILLING_CYCLES = ['monthly', 'quarterly', 'yearly'] as const;
export type BillingCycle = (typeof BILLING_CYCLES)[number];
export const billingCycleEnum = pgEnum('billing_cycle', BILLING_CYCLES);
/** Months per cycle: periods are whole months counted from the anchor, in the customer's time zone. */
export const CYCLE_MONTHS: Record<BillingCycle, number> = { monthly: 1, quarterly: 3, yearly: 12 };

export const PROVISION_KINDS = [
  /** A Proxmox VM cloned from a template. */
  'proxmox_vm',
  /** A Proxmox LXC container from an ostemplate. */
  'proxmox_lxc',
  /** An app deployed from git. */
  'app',
  /** A container from a blueprint on a Docker node. */
  'container',
  /** Nothing is provisioned: a plain service line (support, a licence, a domain…). */
  'service',
] as const;
export type ProvisionKind = (typeof PROVISION_KINDS)[number];

/** What a plan provisions, stored on the plan; the order workflow turns it into a provisioning run. */
export type Provisioning =
  | { kind: 'proxmox_vm'; clusterId: string; templateVmid: number | null; cores: number; memoryMiB: number; diskGiB: number | null; via?: 'api' | 'terraform' }
  | { kind: 'proxmox_lxc'; clusterId: string; ostemplate: string | null; cores: number; memoryMiB: number; diskGiB: number | null }
  | { kind: 'app'; repoUrl: string; branch: string; containerPort: number; nodeId: string }
  | { kind: 'container'; blueprintId: string; nodeId: string }
  | { kind: 'service' };

export interface PostalAddress {
  line1: string;
  line2: string | null;
  postalCode: string;
  city: string;
  region: string | null;
  /** ISO 3166-1 alpha-2. */
  country: string;
}

/** The organization's billing profile and the billing run's schedule. One row per organization. */
export const billingSettings = pgTable('billing_settings', {
  tenantId: uuid('tenant_id')
    .primaryKey()
    .references(() => tenants.id, { onDelete: 'cascade' }),
  /** The seller as printed on invoices. */
  legalName: text('legal_name').notNull(),
  address: jsonb('address').$type<PostalAddress>().notNull(),
  taxId: text('tax_id'),
  email: text('email'),
  /** PNG or JPEG printed in the invoice header. */
  logoFileId: uuid('logo_file_id').references(() => files.id, { onDelete: 'set null' }),
  /** Days between an invoice's date and its due date. */
  paymentTermsDays: integer('payment_terms_days').notNull().default(14),
  /** A subscription is invoiced when its next period starts within this many days. */
  leadDays: integer('lead_days').notNull().default(0),
  /** The billing run starts daily at this hour (0–23) in `runTimeZone`. */
  runHour: integer('run_hour').notNull().default(6),
  runTimeZone: text('run_time_zone').notNull().default('UTC'),
  /** Number prefixes; a series is `<prefix>-<year>` (numbers restart each year, gapless within it). */
  invoicePrefix: text('invoice_prefix').notNull().default('INV'),
  creditNotePrefix: text('credit_note_prefix').notNull().default('CN'),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

export const customers = pgTable(
  'customers',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    kind: customerKindEnum('kind').notNull(),
    /** A person's full name, or a company's legal name. */
    name: text('name').notNull(),
    address: jsonb('address').$type<PostalAddress>().notNull(),
    /** ISO 3166-1 alpha-2; the same as `address.country`, kept as a column for tax rules and lists. */
    country: text('country').notNull(),
    /** VAT or other tax id, normalized (upper case, no spaces); its format is checked on input. */
    taxId: text('tax_id'),
    /** Whether the tax id passed the format check for the customer's country (reverse charge needs it). */
    taxIdValid: boolean('tax_id_valid').notNull().default(false),
    /** ISO 4217; every subscription and invoice of the customer is in it. */
    currency: text('currency').notNull(),
    /** IANA zone: billing periods start and end at local midnight there. */
    timeZone: text('time_zone').notNull(),
    notes: text('notes').notNull().default(''),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [index('customers_tenant_id_name_idx').on(t.tenantId, t.name)],
);

/** People at a customer; exactly one of them is the billing contact (invoices go to them). */
export const customerContacts = pgTable(
  'customer_contacts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    customerId: uuid('customer_id')
      .notNull()
      .references(() => customers.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    email: text('email').notNull(),
    phone: text('phone'),
    /** What they do for the customer (`CTO`, `accounts`…). */
    role: text('role'),
    isBilling: boolean('is_billing').notNull().default(false),
    position: integer('position').notNull().default(0),
  },
  (t) => [
    index('customer_contacts_customer_id_idx').on(t.customerId),
    uniqueIndex('customer_contacts_customer_id_billing_idx').on(t.customerId).where(sql`${t.isBilling}`),
  ],
);

/**
 * Members with the `customer` role, and the one customer each acts for. A customer user sees only
 * that customer's data; one without a row here sees none.
 */
export const customerUsers = pgTable(
  'customer_users',
  {
    tenantId: uuid('tenant_id').notNull(),
    userId: uuid('user_id').notNull(),
    customerId: uuid('customer_id')
      .notNull()
      .references(() => customers.id, { onDelete: 'cascade' }),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.userId] }),
    foreignKey({ columns: [t.tenantId, t.userId], foreignColumns: [memberships.tenantId, memberships.userId] }).onDelete('cascade'),
    index('customer_users_customer_id_idx').on(t.customerId),
  ],
);

export const products = pgTable(
  'products',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    /** Orders of this product wait for an approved KYC case. */
    requiresKyc: boolean('requires_kyc').notNull().default(false),
    /** Inactive products stay on existing subscriptions but cannot be ordered. */
    active: boolean('active').notNull().default(true),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('products_tenant_id_name_idx').on(t.tenantId, t.name)],
);

export const plans = pgTable(
  'plans',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    productId: uuid('product_id')
      .notNull()
      .references(() => products.id, { onDelete: 'restrict' }),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    currency: text('currency').notNull(),
    setupFeeMinor: money('setup_fee_minor').notNull().default(0),
    trialDays: integer('trial_days').notNull().default(0),
    provisioning: jsonb('provisioning').$type<Provisioning>().notNull(),
    active: boolean('active').notNull().default(true),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('plans_product_id_name_idx').on(t.productId, t.name), index('plans_tenant_id_idx').on(t.tenantId)],
);

/** A plan's price per cycle it is sold in (a plan may be sold monthly and yearly). */
export const planPrices = pgTable(
  'plan_prices',
  {
    planId: uuid('plan_id')
      .notNull()
      .references(() => plans.id, { onDelete: 'cascade' }),
    cycle: billingCycleEnum('cycle').notNull(),
    amountMinor: money('amount_minor').notNull(),
  },
  (t) => [primaryKey({ columns: [t.planId, t.cycle] })],
);

export const SUBSCRIPTION_STATUSES = [
  /** Ordered; waiting for its first invoice, acceptance and provisioning. */
  'pending',
  /** Provisioned, within its trial days: the first paid period starts when the trial ends. */
  'trialing',
  'active',
  /** Services held (Billing II: dunning). */
  'suspended',
  /** Ended: nothing more is invoiced. */
  'cancelled',
] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];
export const subscriptionStatusEnum = pgEnum('subscription_status', SUBSCRIPTION_STATUSES);

/**
 * A customer's plan, billed in advance per period. Periods are counted from `anchorDate` in
 * `timeZone` (period n starts `anchorDate + n cycles`, clamped to the month's end, at local
 * midnight), so month-end anchors are kept: Jan 31 → Feb 28/29 → Mar 31.
 * `nextPeriodIndex`/`nextPeriodStart` name the first period not yet invoiced; the billing run
 * invoices it when it starts within the organization's lead time.
 */
export const subscriptions = pgTable(
  'subscriptions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    customerId: uuid('customer_id')
      .notNull()
      .references(() => customers.id, { onDelete: 'restrict' }),
    planId: uuid('plan_id')
      .notNull()
      .references(() => plans.id, { onDelete: 'restrict' }),
    cycle: billingCycleEnum('cycle').notNull(),
    status: subscriptionStatusEnum('status').notNull().default('pending'),
    quantity: integer('quantity').notNull().default(1),
    /** The price per period agreed at the start (or at the last plan change), in `currency`. */
    unitPriceMinor: money('unit_price_minor').notNull(),
    currency: text('currency').notNull(),
    /** The customer's zone when the subscription started; its periods stay in it. */
    timeZone: text('time_zone').notNull(),
    /** The local calendar date periods are counted from. */
    anchorDate: date('anchor_date', { mode: 'string' }).notNull(),
    trialEndsAt: ts('trial_ends_at'),
    nextPeriodIndex: integer('next_period_index').notNull().default(0),
    nextPeriodStart: ts('next_period_start').notNull(),
    /** The period invoiced last (the one the customer is in once it started). */
    currentPeriodStart: ts('current_period_start'),
    currentPeriodEnd: ts('current_period_end'),
    cancelAtPeriodEnd: boolean('cancel_at_period_end').notNull().default(false),
    cancelledAt: ts('cancelled_at'),
    /** When service ends (now, or the end of the current period). */
    endsAt: ts('ends_at'),
    /** The order that created it (`order/<id>`), when there was one. */
    orderId: uuid('order_id'),
    /** What was provisioned for it: `proxmox-guest:<id>`, `app:<id>`, `container:<id>`. */
    resource: text('resource'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('subscriptions_tenant_id_customer_id_idx').on(t.tenantId, t.customerId),
    // The billing run's question: which subscriptions start a period before <now + lead>?
    index('subscriptions_tenant_id_next_period_start_idx')
      .on(t.tenantId, t.nextPeriodStart)
      .where(sql`${t.status} in ('trialing', 'active')`),
  ],
);

export const INVOICE_STATUSES = [
  /** Editable; no number yet. */
  'draft',
  /** Numbered and immutable; sent to the customer. */
  'finalized',
  'paid',
  /** Cancelled after finalization; its number stays used. */
  'void',
] as const;
export type InvoiceStatus = (typeof INVOICE_STATUSES)[number];
export const invoiceStatusEnum = pgEnum('invoice_status', INVOICE_STATUSES);

export interface CustomerSnapshot {
  name: string;
  kind: CustomerKind;
  address: PostalAddress;
  taxId: string | null;
  email: string | null;
}

/**
 * An invoice. Its number is assigned at finalization from `number_counters` in the same
 * transaction, so numbers are gapless per organization and series. An invoice of a subscription
 * period is unique per (subscription, period start): the billing run cannot invoice a period twice.
 */
export const invoices = pgTable(
  'invoices',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    customerId: uuid('customer_id')
      .notNull()
      .references(() => customers.id, { onDelete: 'restrict' }),
    subscriptionId: uuid('subscription_id').references(() => subscriptions.id, { onDelete: 'restrict' }),
    orderId: uuid('order_id'),
    /**
     * Makes creating it idempotent: `period/<subscription>/<period start>` for the billing run,
     * `order/<order>` for an order's first invoice, `change/<change>` for a plan change.
     */
    key: text('key'),
    status: invoiceStatusEnum('status').notNull().default('draft'),
    /** `INV-2026`: numbers count up within it; null until finalized. */
    series: text('series'),
    sequence: integer('sequence'),
    /** `INV-2026-000042`; null until finalized. */
    number: text('number'),
    currency: text('currency').notNull(),
    periodStart: ts('period_start'),
    periodEnd: ts('period_end'),
    subtotalMinor: money('subtotal_minor').notNull().default(0),
    taxMinor: money('tax_minor').notNull().default(0),
    totalMinor: money('total_minor').notNull().default(0),
    /** The customer pays no tax here; they account for it (EU reverse charge). */
    reverseCharge: boolean('reverse_charge').notNull().default(false),
    /** Who was billed, as they were at finalization. */
    customerSnapshot: jsonb('customer_snapshot').$type<CustomerSnapshot>(),
    issuedAt: ts('issued_at'),
    dueAt: ts('due_at'),
    paidAt: ts('paid_at'),
    voidedAt: ts('voided_at'),
    voidReason: text('void_reason'),
    pdfFileId: uuid('pdf_file_id').references(() => files.id, { onDelete: 'set null' }),
    notes: text('notes').notNull().default(''),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('invoices_tenant_id_key_idx').on(t.tenantId, t.key).where(sql`${t.key} is not null`),
    uniqueIndex('invoices_subscription_id_period_start_idx').on(t.subscriptionId, t.periodStart).where(sql`${t.subscriptionId} is not null and ${t.periodStart} is not null`),
    uniqueIndex('invoices_tenant_id_series_sequence_idx').on(t.tenantId, t.series, t.sequence).where(sql`${t.sequence} is not null`),
    uniqueIndex('invoices_tenant_id_number_idx').on(t.tenantId, t.number).where(sql`${t.number} is not null`),
    index('invoices_tenant_id_customer_id_idx').on(t.tenantId, t.customerId),
    index('invoices_tenant_id_status_idx').on(t.tenantId, t.status),
  ],
);

export const LINE_KINDS = ['plan', 'setup', 'proration', 'custom'] as const;
export type LineKind = (typeof LINE_KINDS)[number];

/** An invoice's lines; amounts computed once, in minor units, when the line is written. */
export const invoiceLines = pgTable(
  'invoice_lines',
  {
    invoiceId: uuid('invoice_id')
      .notNull()
      .references(() => invoices.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    kind: text('kind').$type<LineKind>().notNull().default('custom'),
    description: text('description').notNull(),
    quantity: integer('quantity').notNull(),
    unitPriceMinor: money('unit_price_minor').notNull(),
    /** Basis points: 1900 is 19 %. */
    taxRateBp: integer('tax_rate_bp').notNull(),
    netMinor: money('net_minor').notNull(),
    taxMinor: money('tax_minor').notNull(),
    totalMinor: money('total_minor').notNull(),
    periodStart: ts('period_start'),
    periodEnd: ts('period_end'),
  },
  (t) => [primaryKey({ columns: [t.invoiceId, t.position] })],
);

export const CREDIT_NOTE_STATUSES = ['draft', 'finalized'] as const;
export type CreditNoteStatus = (typeof CREDIT_NOTE_STATUSES)[number];
export const creditNoteStatusEnum = pgEnum('credit_note_status', CREDIT_NOTE_STATUSES);

/**
 * A credit note: its own numbering series (`CN-2026`), always referencing the invoice it credits;
 * the credited total never exceeds what the invoice still holds.
 */
export const creditNotes = pgTable(
  'credit_notes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    invoiceId: uuid('invoice_id')
      .notNull()
      .references(() => invoices.id, { onDelete: 'restrict' }),
    customerId: uuid('customer_id')
      .notNull()
      .references(() => customers.id, { onDelete: 'restrict' }),
    /** Makes issuing one idempotent (an order's compensation, a retried request). */
    key: text('key'),
    status: creditNoteStatusEnum('status').notNull().default('draft'),
    series: text('series'),
    sequence: integer('sequence'),
    number: text('number'),
    currency: text('currency').notNull(),
    subtotalMinor: money('subtotal_minor').notNull().default(0),
    taxMinor: money('tax_minor').notNull().default(0),
    totalMinor: money('total_minor').notNull().default(0),
    reverseCharge: boolean('reverse_charge').notNull().default(false),
    customerSnapshot: jsonb('customer_snapshot').$type<CustomerSnapshot>(),
    reason: text('reason').notNull(),
    issuedAt: ts('issued_at'),
    pdfFileId: uuid('pdf_file_id').references(() => files.id, { onDelete: 'set null' }),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('credit_notes_tenant_id_key_idx').on(t.tenantId, t.key).where(sql`${t.key} is not null`),
    uniqueIndex('credit_notes_tenant_id_series_sequence_idx').on(t.tenantId, t.series, t.sequence).where(sql`${t.sequence} is not null`),
    index('credit_notes_invoice_id_idx').on(t.invoiceId),
    index('credit_notes_tenant_id_customer_id_idx').on(t.tenantId, t.customerId),
  ],
);

export const creditNoteLines = pgTable(
  'credit_note_lines',
  {
    creditNoteId: uuid('credit_note_id')
      .notNull()
      .references(() => creditNotes.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    description: text('description').notNull(),
    quantity: integer('quantity').notNull(),
    unitPriceMinor: money('unit_price_minor').notNull(),
    taxRateBp: integer('tax_rate_bp').notNull(),
    netMinor: money('net_minor').notNull(),
    taxMinor: money('tax_minor').notNull(),
    totalMinor: money('total_minor').notNull(),
  },
  (t) => [primaryKey({ columns: [t.creditNoteId, t.position] })],
);

/**
 * The last number used per organization and series. Finalization locks the row (`for update`),
 * increments it and writes the number in the same transaction: a rolled-back finalization
 * leaves no gap, two concurrent ones never share a number.
 */
export const numberCounters = pgTable(
  'number_counters',
  {
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    series: text('series').notNull(),
    last: integer('last').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.series] })],
);

/**
 * Tax by the customer's country: the organization's rate for that country (`country` null is
 * the default for every other one). `reverseCharge`: business customers there with a valid tax
 * id are invoiced without tax (EU B2B across borders).
 */
export const taxRules = pgTable(
  'tax_rules',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    country: text('country'),
    name: text('name').notNull(),
    rateBp: integer('rate_bp').notNull(),
    reverseCharge: boolean('reverse_charge').notNull().default(false),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('tax_rules_tenant_id_country_idx').on(t.tenantId, sql`coalesce(${t.country}, '*')`)],
);

/**
 * A plan change in the middle of a period: credit for the unused part of the old plan, a charge
 * for the new one until the period ends, invoiced at once. One row per change request (`key`).
 */
export const subscriptionChanges = pgTable(
  'subscription_changes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    subscriptionId: uuid('subscription_id')
      .notNull()
      .references(() => subscriptions.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    fromPlanId: uuid('from_plan_id').notNull(),
    toPlanId: uuid('to_plan_id').notNull(),
    fromUnitPriceMinor: money('from_unit_price_minor').notNull(),
    toUnitPriceMinor: money('to_unit_price_minor').notNull(),
    effectiveAt: ts('effective_at').notNull(),
    creditMinor: money('credit_minor').notNull(),
    chargeMinor: money('charge_minor').notNull(),
    invoiceId: uuid('invoice_id').references(() => invoices.id, { onDelete: 'set null' }),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('subscription_changes_tenant_id_key_idx').on(t.tenantId, t.key), index('subscription_changes_subscription_id_idx').on(t.subscriptionId)],
);
