import { z } from '@hono/zod-openapi';
import { BILLING_CYCLES, CUSTOMER_KINDS, DUNNING_STEP_KINDS, GUEST_STATES, INVOICE_STATUSES, LINE_KINDS, SUBSCRIPTION_STATUSES, SUSPENSION_REASONS } from '@keelson/db/schema';
import { StartedRunSchema } from '../../schemas';
import { AddressSchema } from '../customers/schema';
import { Country, TimeZone } from '../../services/billing/validation';

const Id = (what: string) => z.uuid({ error: `must be a ${what} id (UUID)` });
const Iso = z.string().nullable();
/** Money that may be negative (a credit line), in minor units, whole. */
const SignedMinor = z.number().int('a whole number of minor units (cents)').min(-1_000_000_000_000).max(1_000_000_000_000);

export const SubscriptionSchema = z
  .object({
    id: z.string(),
    customerId: z.string(),
    customerName: z.string(),
    planId: z.string(),
    planName: z.string(),
    productName: z.string(),
    cycle: z.enum(BILLING_CYCLES),
    status: z.enum(SUBSCRIPTION_STATUSES),
    quantity: z.number(),
    unitPriceMinor: z.number(),
    currency: z.string(),
    timeZone: z.string(),
    anchorDate: z.string(),
    trialEndsAt: Iso,
    currentPeriodStart: Iso,
    currentPeriodEnd: Iso,
    nextPeriodStart: z.string(),
    cancelAtPeriodEnd: z.boolean(),
    cancelledAt: Iso,
    endsAt: Iso,
    orderId: z.string().nullable(),
    resource: z.string().nullable(),
    suspended: z.boolean().openapi({ description: 'The service is stopped by a suspension' }),
    suspensionReasons: z.array(z.enum(SUSPENSION_REASONS)).openapi({ description: 'Why it is suspended (each reason is lifted on its own)' }),
    serviceState: z
      .enum(GUEST_STATES)
      .nullable()
      .openapi({ description: 'The power state of its VM or container as last recorded (running, stopped…); null for an app or no service' }),
    createdAt: z.string(),
  })
  .openapi('Subscription');
export const SubscriptionListSchema = z.object({ items: z.array(SubscriptionSchema) }).openapi('SubscriptionList');
export const SubscriptionListQuery = z.object({ customerId: Id('customer').optional(), status: z.enum(SUBSCRIPTION_STATUSES).optional() });
export const SubscriptionBody = z
  .object({
    customerId: Id('customer'),
    planId: Id('plan'),
    cycle: z.enum(BILLING_CYCLES),
    quantity: z.number().int().min(1).max(10_000).default(1),
    startAt: z.iso.datetime({ offset: true, error: 'an ISO 8601 date-time' }).optional().openapi({ description: 'Defaults to now; periods are anchored on its local date in the customer’s zone' }),
  })
  .openapi('SubscriptionInput');
export const ChangePlanBody = z
  .object({
    planId: Id('plan'),
    requestId: z.string().uuid('a UUID').optional().openapi({ description: 'The change’s idempotency key: a repeated request gives the same change (one generated when left out)' }),
  })
  .openapi('ChangePlanInput');
export const PlanChangeSchema = z
  .object({
    id: z.string(),
    subscriptionId: z.string(),
    fromPlanId: z.string(),
    toPlanId: z.string(),
    fromUnitPriceMinor: z.number(),
    toUnitPriceMinor: z.number(),
    currency: z.string(),
    timeZone: z.string().openapi({ description: 'The customer’s zone, in which the period is counted' }),
    effectiveAt: z.string(),
    periodStart: Iso.openapi({ description: 'The invoiced period the change falls in; null when none is invoiced yet (nothing prorated)' }),
    periodEnd: Iso,
    creditMinor: z.number().int().openapi({ description: 'The unused part of the old plan, to the end of the period (net, minor units)' }),
    chargeMinor: z.number().int().openapi({ description: 'The new plan for the same time (net, minor units)' }),
    netMinor: z.number().int().openapi({ description: 'charge − credit: invoiced when positive, credited when negative' }),
    invoiceId: z.string().nullable(),
    creditNoteId: z.string().nullable(),
  })
  .openapi('PlanChange');
export const CancelBody = z.object({ when: z.enum(['now', 'period_end']).openapi({ description: '`now`, or at the end of the period already invoiced' }) }).openapi('CancelSubscription');

const LineSchema = z.object({
  position: z.number(),
  kind: z.enum(LINE_KINDS),
  description: z.string(),
  quantity: z.number(),
  unitPriceMinor: z.number(),
  taxRateBp: z.number(),
  netMinor: z.number(),
  taxMinor: z.number(),
  totalMinor: z.number(),
  periodStart: Iso,
  periodEnd: Iso,
});

const invoiceFields = {
  id: z.string(),
  customerId: z.string(),
  customerName: z.string(),
  subscriptionId: z.string().nullable(),
  orderId: z.string().nullable(),
  status: z.enum(INVOICE_STATUSES),
  series: z.string().nullable(),
  number: z.string().nullable().openapi({ description: 'Assigned at finalization, gapless per organization and series' }),
  currency: z.string(),
  periodStart: Iso,
  periodEnd: Iso,
  subtotalMinor: z.number(),
  taxMinor: z.number(),
  totalMinor: z.number(),
  reverseCharge: z.boolean(),
  issuedAt: Iso,
  dueAt: Iso,
  paidAt: Iso,
  voidedAt: Iso,
  voidReason: z.string().nullable(),
  pdfReady: z.boolean(),
  createdAt: z.string(),
};
export const InvoiceSummarySchema = z.object(invoiceFields).openapi('InvoiceSummary');
export const InvoiceListSchema = z.object({ items: z.array(InvoiceSummarySchema) }).openapi('InvoiceList');
export const InvoiceListQuery = z.object({ customerId: Id('customer').optional(), subscriptionId: Id('subscription').optional(), status: z.enum(INVOICE_STATUSES).optional() });
export const InvoiceSchema = z
  .object({
    ...invoiceFields,
    customer: z
      .object({ name: z.string(), kind: z.enum(CUSTOMER_KINDS), address: z.record(z.string(), z.unknown()), taxId: z.string().nullable(), email: z.string().nullable() })
      .nullable()
      .openapi({ description: 'Who was billed, as they were at finalization (null for a draft)' }),
    notes: z.string(),
    lines: z.array(LineSchema),
    creditNotes: z.array(z.object({ id: z.string(), number: z.string().nullable(), totalMinor: z.number(), reason: z.string(), issuedAt: Iso })),
    emails: z.array(z.object({ kind: z.string(), status: z.string(), to: z.array(z.string()), sentAt: Iso, messageId: z.string() })),
  })
  .openapi('Invoice');

const CustomLine = z.object({ description: z.string().trim().min(1).max(500), quantity: z.number().int().min(1).max(1_000_000), unitPriceMinor: SignedMinor });
export const ManualInvoiceBody = z
  .object({ customerId: Id('customer'), lines: z.array(CustomLine).min(1, 'at least one line').max(200), notes: z.string().max(2000).default('') })
  .openapi('ManualInvoiceInput');
export const VoidBody = z.object({ reason: z.string().trim().min(1, 'say why').max(500) }).openapi('VoidInvoice');
export const CreditBody = z
  .object({
    reason: z.string().trim().min(1, 'say why').max(500),
    lines: z
      .array(CustomLine.extend({ unitPriceMinor: z.number().int('a whole number of minor units (cents)').min(1).max(1_000_000_000_000) }))
      .min(1)
      .max(200)
      .optional()
      .openapi({ description: 'Net amounts to credit at the invoice’s tax rate; the whole (remaining) invoice when left out' }),
  })
  .openapi('CreditInvoice');

export const CreditNoteSchema = z
  .object({
    id: z.string(),
    invoiceId: z.string(),
    invoiceNumber: z.string().nullable(),
    customerId: z.string(),
    number: z.string().nullable(),
    status: z.string(),
    currency: z.string(),
    subtotalMinor: z.number(),
    taxMinor: z.number(),
    totalMinor: z.number(),
    reason: z.string(),
    issuedAt: Iso,
    pdfReady: z.boolean(),
    lines: z.array(z.object({ position: z.number(), description: z.string(), quantity: z.number(), unitPriceMinor: z.number(), taxRateBp: z.number(), netMinor: z.number(), taxMinor: z.number(), totalMinor: z.number() })),
  })
  .openapi('CreditNote');
export const CreditNoteListSchema = z.object({ items: z.array(CreditNoteSchema) }).openapi('CreditNoteList');
export const CreditNoteListQuery = z.object({ customerId: Id('customer').optional(), invoiceId: Id('invoice').optional() });
export const CreditedSchema = z.object({ creditNote: CreditNoteSchema, run: StartedRunSchema }).openapi('CreditedInvoice');

const Prefix = z.string().regex(/^[A-Z][A-Z0-9]{0,9}$/, 'upper-case letters and digits, up to 10 (INV, CN, RE)');
export const BillingSettingsBody = z
  .object({
    legalName: z.string().trim().min(1).max(200),
    address: AddressSchema,
    taxId: z.string().trim().max(30).nullable().default(null),
    email: z.email().nullable().default(null),
    logoFileId: Id('file').nullable().default(null),
    paymentTermsDays: z.number().int().min(0).max(365).default(14),
    leadDays: z.number().int().min(0).max(60).default(0).openapi({ description: 'Invoice a period this many days before it starts' }),
    runHour: z.number().int().min(0).max(23).default(6),
    runTimeZone: TimeZone.default('UTC'),
    invoicePrefix: Prefix.default('INV'),
    creditNotePrefix: Prefix.default('CN'),
  })
  .openapi('BillingSettingsInput');
export const BillingSettingsSchema = z
  .object({
    legalName: z.string(),
    address: z.record(z.string(), z.unknown()),
    taxId: z.string().nullable(),
    email: z.string().nullable(),
    logoFileId: z.string().nullable(),
    paymentTermsDays: z.number(),
    leadDays: z.number(),
    runHour: z.number(),
    runTimeZone: z.string(),
    invoicePrefix: z.string(),
    creditNotePrefix: z.string(),
    updatedAt: z.string(),
  })
  .openapi('BillingSettings');
export const BillingSettingsStateSchema = z.object({ settings: BillingSettingsSchema.nullable() }).openapi('BillingSettingsState');

export const TaxRuleBody = z
  .object({
    country: Country.nullable().openapi({ description: "The customer's country; null for the default rule" }),
    name: z.string().trim().min(1).max(100),
    rateBp: z.number().int('basis points: 1900 is 19 %').min(0).max(10_000),
    reverseCharge: z.boolean().default(false).openapi({ description: 'Companies there with a valid tax id pay no tax (reverse charge)' }),
  })
  .openapi('TaxRuleInput');
export const TaxRuleSchema = z.object({ id: z.string(), country: z.string().nullable(), name: z.string(), rateBp: z.number(), reverseCharge: z.boolean(), createdAt: z.string() }).openapi('TaxRule');
export const TaxRuleListSchema = z.object({ items: z.array(TaxRuleSchema) }).openapi('TaxRuleList');

export const ScheduleSchema = z
  .object({
    scheduleId: z.string(),
    exists: z.boolean(),
    paused: z.boolean(),
    note: z.string().nullable(),
    runHour: z.number(),
    timeZone: z.string(),
    nextRuns: z.array(z.string()),
    recentRuns: z.array(z.object({ workflowId: z.string(), scheduledAt: z.string(), startedAt: z.string() })),
  })
  .openapi('BillingSchedule');
export const PauseBody = z.object({ note: z.string().max(500).optional() }).openapi('PauseBillingSchedule');
export const BackfillBody = z
  .object({ from: z.iso.datetime({ offset: true, error: 'an ISO 8601 date-time' }), to: z.iso.datetime({ offset: true, error: 'an ISO 8601 date-time' }) })
  .refine((b) => new Date(b.from) < new Date(b.to), 'from must be before to')
  .refine((b) => new Date(b.to).getTime() - new Date(b.from).getTime() <= 366 * 86_400_000, 'at most a year at once')
  .openapi('BackfillBillingSchedule');

/** A reason holding a customer's service (decision 0027). */
export const SuspensionSchema = z
  .object({
    id: z.string(),
    resource: z.string(),
    reason: z.enum(SUSPENSION_REASONS),
    source: z.string(),
    note: z.string(),
    requestedBy: z.string(),
    requestedAt: z.string(),
    suspendedAt: Iso.openapi({ description: 'When the service was stopped for it (written after it happened)' }),
    liftedAt: Iso,
    liftedBy: z.string().nullable(),
    restoredAt: Iso.openapi({ description: 'When the service ran again after it was lifted (null while another reason holds it)' }),
    state: z.enum(['pending', 'suspended', 'lifting', 'restored', 'lifted']),
  })
  .openapi('Suspension');
export const SuspensionListSchema = z.object({ items: z.array(SuspensionSchema) }).openapi('SuspensionList');
export const SuspendBody = z.object({ note: z.string().trim().min(1, 'say why').max(500) }).openapi('SuspendService');

const Rung = z.object({ day: z.number().int('a whole number of days').min(0).max(365), kind: z.enum(DUNNING_STEP_KINDS) });
export const DunningSettingsSchema = z
  .object({
    enabled: z.boolean(),
    ladder: z.array(Rung).max(20),
    terminationApproval: z.boolean().openapi({ description: 'A person with billing rights approves each termination' }),
  })
  .openapi('DunningSettings');
export const DunningSettingsBody = DunningSettingsSchema.superRefine((s, ctx) => {
  const seen = new Set<string>();
  s.ladder.forEach((r, i) => {
    const key = `${r.day}/${r.kind}`;
    if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['ladder', i], message: `${r.kind} on day ${r.day} is already in the ladder` });
    seen.add(key);
  });
  if (s.ladder.filter((r) => r.kind === 'terminate').length > 1) ctx.addIssue({ code: 'custom', path: ['ladder'], message: 'one termination at most' });
});

export const InvoiceDunningSchema = z
  .object({
    invoiceId: z.string(),
    status: z.enum(INVOICE_STATUSES),
    dueAt: Iso,
    run: z.object({ workflowId: z.string(), status: z.string() }).nullable(),
    steps: z.array(
      z.object({
        position: z.number(),
        day: z.number(),
        kind: z.enum(DUNNING_STEP_KINDS),
        scheduledAt: z.string(),
        doneAt: Iso,
        outcome: z.string().nullable(),
        note: z.string(),
        email: z.object({ status: z.string(), subject: z.string(), sentAt: Iso }).nullable(),
      }),
    ),
    service: z.string().nullable(),
    suspensions: z.array(SuspensionSchema),
  })
  .openapi('InvoiceDunning');
