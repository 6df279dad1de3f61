import { issueCreditNote, lineAmounts } from '@keelson/activities/billing/ledger';
import { customerCredit, invoiceBalance, recordPayment, recordRefund, type RecordedPayment } from '@keelson/activities/billing/payments-ledger';
import { BillingOperation, WorkflowId, WorkflowType, type InvoicePaidSignal } from '@keelson/common/constants';
import { INVOICE_PAID_SIGNAL, organizationStripe, signalPaymentIntent } from '@keelson/activities/payments/index';
import { chargeSavedCard, startCheckout } from '@keelson/activities/payments/checkout';
import { upsertReconcileSchedule } from '@keelson/activities/payments/schedules';
import { encryptSecret } from '@keelson/common/codec';
import { writeAudit } from '@keelson/db';
import { creditNotes, customers, invoiceLines, invoices, payments, refunds, stripeCustomers, stripeEvents, stripeSettings, type PaymentMethod } from '@keelson/db/schema';
import { WorkflowNotFoundError } from '@temporalio/client';
import { and, asc, eq, sql } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { z } from 'zod';
import type { AppDeps } from '../../deps';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../errors';
import { auditActor, type ServiceContext } from '../context';
import { customerResource, customerScope } from '../customer-scope';
import { startWorkflowRun } from '../runs-service';
import { forTenant } from '../tenant-scope';
import { ledgerCall } from './ledger-errors';
import { handOverStripeEvent } from './stripe-hand-off';
import { stripeWebhookSecrets } from './stripe-webhook-secrets';

/** Stripe's own default: a signed event older than this is refused (replay protection). */
export const STRIPE_SIGNATURE_TOLERANCE_S = 300;

const mask = (hint: string) => `••••${hint}`;

/** The organization's Stripe account as staff see it: secrets never, only their last characters. */
export async function getStripeSettings(ctx: ServiceContext) {
  if (customerScope(ctx)) throw new ForbiddenError('the organization’s Stripe account is a staff matter');
  const [row] = await ctx.deps.db.select().from(stripeSettings).where(eq(stripeSettings.tenantId, ctx.principal.tenantId));
  return {
    configured: Boolean(row),
    secretKey: row ? mask(row.secretKeyHint) : null,
    webhookSecret: row ? '••••' : null,
    publishableKey: row?.publishableKey ?? null,
    webhookUrl: `/api/webhooks/stripe/${ctx.principal.tenantId}`,
    updatedAt: row?.updatedAt.toISOString() ?? null,
  };
}

/**
 * Sets the organization's Stripe keys (sealed with the key ring; write-only) and makes sure its
 * reconciliation Schedule runs.
 */
export async function putStripeSettings(ctx: ServiceContext, body: { secretKey: string; webhookSecret: string; publishableKey?: string | null }) {
  if (customerScope(ctx)) throw new ForbiddenError('the organization’s Stripe account is a staff matter');
  const tenantId = ctx.principal.tenantId;
  const values = {
    secretKeySealed: encryptSecret(ctx.deps.keys, body.secretKey),
    secretKeyHint: body.secretKey.slice(-4),
    webhookSecretSealed: encryptSecret(ctx.deps.keys, body.webhookSecret),
    publishableKey: body.publishableKey ?? null,
    updatedAt: new Date(),
  };
  await ctx.deps.db.transaction(async (tx) => {
    await tx.insert(stripeSettings).values({ tenantId, ...values }).onConflictDoUpdate({ target: stripeSettings.tenantId, set: values });
    await writeAudit(tx, { ...auditActor(ctx), action: 'payments.stripe.update', resourceType: 'stripe_settings', resourceId: tenantId, details: { secretKey: mask(values.secretKeyHint) } });
  });
  // This process verifies the next delivery with the new signing secret; others within the cache's TTL.
  stripeWebhookSecrets(ctx.deps).forget(tenantId);
  await forTenant(ctx.deps, tenantId, () =>
    upsertReconcileSchedule(ctx.deps.temporal, { tenantId, actor: `${ctx.principal.actorType}:${ctx.principal.actorId}`, taskQueue: ctx.deps.config.coreTaskQueue, everyMs: ctx.deps.config.paymentsReconcileEveryMs }),
  );
  return getStripeSettings(ctx);
}

function presentPayment(p: typeof payments.$inferSelect) {
  return {
    id: p.id,
    invoiceId: p.invoiceId,
    customerId: p.customerId,
    provider: p.provider,
    method: p.method,
    amountMinor: p.amountMinor,
    appliedMinor: p.appliedMinor,
    creditMinor: p.amountMinor - p.appliedMinor,
    currency: p.currency,
    reference: p.reference,
    receivedAt: p.receivedAt.toISOString(),
    recordedBy: p.recordedBy,
  };
}

async function visibleInvoice(ctx: ServiceContext, invoiceId: string) {
  const scope = customerScope(ctx);
  const [row] = await ctx.deps.db
    .select({ id: invoices.id, customerId: invoices.customerId, currency: invoices.currency })
    .from(invoices)
    .where(and(eq(invoices.tenantId, ctx.principal.tenantId), eq(invoices.id, invoiceId), scope ? eq(invoices.customerId, scope) : undefined));
  if (!row) throw new NotFoundError('invoice');
  return row;
}

/** An invoice's payments and its balance, both from the ledger; with the customer's credit. */
export async function invoicePayments(ctx: ServiceContext, invoiceId: string) {
  const inv = await visibleInvoice(ctx, invoiceId);
  const tenantId = ctx.principal.tenantId;
  const balance = await ledgerCall(() => invoiceBalance(ctx.deps.db, tenantId, invoiceId));
  const rows = await ctx.deps.db.select().from(payments).where(and(eq(payments.tenantId, tenantId), eq(payments.invoiceId, invoiceId))).orderBy(asc(payments.receivedAt), asc(payments.createdAt));
  return {
    invoiceId,
    status: balance.status,
    currency: balance.currency,
    totalMinor: balance.totalMinor,
    creditedMinor: balance.creditedMinor,
    paidMinor: balance.paidMinor,
    creditAppliedMinor: balance.creditAppliedMinor,
    refundedMinor: balance.refundedMinor,
    balanceMinor: balance.balanceMinor,
    customerCreditMinor: await customerCredit(ctx.deps.db, tenantId, inv.customerId, balance.currency),
    payments: rows.map(presentPayment),
  };
}

/** Starts the run that emails a payment's receipt, once per payment (its workflow id and its mail key). */
export async function sendReceipt(ctx: ServiceContext, paymentId: string, customerId: string, invoiceId: string) {
  try {
    await startWorkflowRun(ctx, {
      operation: 'billing.payment',
      workflowType: WorkflowType.paymentReceipt,
      workflowId: WorkflowId.paymentReceipt(paymentId),
      input: { paymentId },
      resources: [`invoice:${invoiceId}`, customerResource(customerId)],
    });
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err; // already on its way
  }
}

/** Ends the invoice's dunning ladder, if one runs (its own signal); none running is fine. */
export async function tellDunningPaid(deps: AppDeps, tenantId: string, invoiceId: string, paymentId: string | null) {
  try {
    await forTenant(deps, tenantId, () => deps.temporal.workflow.getHandle(WorkflowId.dunning(invoiceId)).signal<[InvoicePaidSignal]>(INVOICE_PAID_SIGNAL, paymentId ? { paymentId } : {}));
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
}

export interface ManualPaymentBody {
  amountMinor: number;
  method: Exclude<PaymentMethod, 'card'>;
  reference: string;
  receivedAt?: string;
  /** Makes the request idempotent: the same key records the payment once. */
  key?: string;
}

/**
 * A payment received by hand (bank transfer, cash): recorded once per key, up to the balance
 * applied to the invoice and the rest kept as the customer's credit. A payment that settles the
 * invoice ends its dunning ladder.
 */
export async function recordManualPayment(ctx: ServiceContext, invoiceId: string, body: ManualPaymentBody) {
  const inv = await visibleInvoice(ctx, invoiceId);
  const tenantId = ctx.principal.tenantId;
  const recorded: RecordedPayment = await ctx.deps.db.transaction(async (tx) => {
    const out = await ledgerCall(() =>
      recordPayment(tx, {
        tenantId,
        invoiceId,
        provider: 'manual',
        providerPaymentId: `${tenantId}/${body.key ?? randomUUID()}`,
        method: body.method,
        amountMinor: body.amountMinor,
        currency: inv.currency,
        reference: body.reference,
        receivedAt: body.receivedAt ? new Date(body.receivedAt) : new Date(),
        recordedBy: `${ctx.principal.actorType}:${ctx.principal.actorId}`,
        strict: true,
      }),
    );
    if (out.created) await writeAudit(tx, { ...auditActor(ctx), action: 'payment.record', resourceType: 'invoice', resourceId: invoiceId, details: { paymentId: out.paymentId, amountMinor: body.amountMinor, method: body.method, reference: body.reference } });
    return out;
  });
  if (recorded.created) await sendReceipt(ctx, recorded.paymentId, recorded.customerId, invoiceId);
  if (recorded.paidNow) await tellDunningPaid(ctx.deps, tenantId, invoiceId, recorded.paymentId);
  return { created: recorded.created, paymentId: recorded.paymentId, ...(await invoicePayments(ctx, invoiceId)) };
}

export interface StripeWebhookResult {
  status: 200 | 400;
  outcome: 'accepted' | 'duplicate' | 'ignored' | 'rejected';
  reason: string;
}

/** What Keelson reads of a verified event; everything else in it is ignored. */
const EventShape = z.object({
  id: z.string().min(1).max(255),
  type: z.string().min(1).max(255),
  data: z.object({ object: z.object({ id: z.string().min(1).max(255), object: z.string().max(100) }) }),
});

const reject = (reason: string): StripeWebhookResult => ({ status: 400, outcome: 'rejected', reason });

/**
 * A Stripe webhook for one organization: `Stripe-Signature` is verified over the raw bytes before
 * anything is parsed (the stripe package's own check, 300 s tolerance); the event id is taken once
 * by a unique index in the statement that records it, and the answer goes out once that row is
 * committed. A PaymentIntent event is handed to its PaymentIntent's run (signal-with-start, which
 * reads the PaymentIntent from Stripe before acting) after the answer, not before it: Temporal's
 * latency is not Stripe's to wait for, and the recorded row guarantees the hand-over
 * (`stripe-hand-off.ts`).
 */
export async function receiveStripeWebhook(deps: AppDeps, tenantId: string, rawBody: Buffer, header: (name: string) => string | undefined): Promise<StripeWebhookResult> {
  const signature = header('stripe-signature');
  if (!signature) return reject('the Stripe-Signature header is missing');
  const secret = await stripeWebhookSecrets(deps).secretOf(tenantId);
  // An unknown organization answers like a bad signature: nothing to learn from probing.
  if (!secret) return reject('the signature does not verify');
  let event: Stripe.Event;
  try {
    event = Stripe.webhooks.constructEvent(rawBody, signature, secret, STRIPE_SIGNATURE_TOLERANCE_S);
  } catch (err) {
    if (err instanceof Stripe.errors.StripeSignatureVerificationError) return reject(`the signature does not verify (${err.message.split('\n')[0]!.slice(0, 200)})`);
    return reject('the body is not a JSON event');
  }
  const parsed = EventShape.safeParse(event);
  if (!parsed.success) return reject(parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  const { id: eventId, type, data } = parsed.data;
  const isIntent = data.object.object === 'payment_intent' && type.startsWith('payment_intent.');
  // Claimed and recorded in one statement; a PaymentIntent event is recorded as waiting for its hand-over.
  const [claimed] = await deps.db
    .insert(stripeEvents)
    .values({ tenantId, eventId, type, objectId: data.object.id, handOffPending: isIntent })
    .onConflictDoNothing()
    .returning({ id: stripeEvents.id });
  if (!claimed) return { status: 200, outcome: 'duplicate', reason: `event ${eventId} was already received` };
  if (!isIntent) return { status: 200, outcome: 'ignored', reason: `event ${type} is not about a PaymentIntent` };
  // Answered now; handed over after. The committed row is the promise: if this hand-over fails
  // or never runs (the process dies), the dispatcher finds the row still pending and does it.
  void handOverStripeEvent(deps, { id: claimed.id, tenantId, eventId, objectId: data.object.id }).catch(() => undefined);
  return { status: 200, outcome: 'accepted', reason: `event ${eventId} recorded for payment-intent/${data.object.id}` };
}

/** "Pay now" for an invoice the caller may see: a PaymentIntent their browser confirms (decision 0026). */
export async function payInvoice(ctx: ServiceContext, invoiceId: string) {
  await visibleInvoice(ctx, invoiceId);
  const checkout = await ledgerCall(() => startCheckout({ db: ctx.deps.db, keys: ctx.deps.keys, stripeApiUrl: ctx.deps.config.stripeApiUrl }, ctx.principal.tenantId, invoiceId));
  await writeAudit(ctx.deps.db, { ...auditActor(ctx), action: 'payment.checkout', resourceType: 'invoice', resourceId: invoiceId, details: { paymentIntentId: checkout.paymentIntentId, amountMinor: checkout.amountMinor } });
  return checkout;
}

/**
 * "Pay now" with the card on file (decision 0026): the card the customer saved is charged for the
 * balance, confirmed by Keelson — no Stripe.js on the page. A charge Stripe took is handed to its
 * PaymentIntent's run at once (it records the payment, emails the receipt, ends the dunning ladder
 * and so brings suspended services back); if that hand-over fails, the webhook or reconciliation
 * still settle it, so the customer's answer does not depend on it.
 */
export async function payWithSavedCard(ctx: ServiceContext, invoiceId: string) {
  await visibleInvoice(ctx, invoiceId);
  const tenantId = ctx.principal.tenantId;
  const charge = await ledgerCall(() => chargeSavedCard({ db: ctx.deps.db, keys: ctx.deps.keys, stripeApiUrl: ctx.deps.config.stripeApiUrl }, tenantId, invoiceId));
  await writeAudit(ctx.deps.db, { ...auditActor(ctx), action: 'payment.saved_card', resourceType: 'invoice', resourceId: invoiceId, details: { paymentIntentId: charge.paymentIntentId, attempt: charge.attempt, outcome: charge.outcome, amountMinor: charge.amountMinor } });
  if (charge.paymentIntentId && (charge.outcome === 'succeeded' || charge.outcome === 'processing')) {
    await signalPaymentIntent(ctx.deps.temporal, ctx.deps.config.coreTaskQueue, { tenantId, paymentIntentId: charge.paymentIntentId, source: 'pay-now', actor: `${ctx.principal.actorType}:${ctx.principal.actorId}` }).catch(() => undefined);
  }
  return charge;
}

async function visibleCustomer(ctx: ServiceContext, customerId: string) {
  const scope = customerScope(ctx);
  if (scope && scope !== customerId) throw new NotFoundError('customer');
  const [row] = await ctx.deps.db.select({ id: customers.id, name: customers.name }).from(customers).where(and(eq(customers.tenantId, ctx.principal.tenantId), eq(customers.id, customerId)));
  if (!row) throw new NotFoundError('customer');
  return row;
}

async function requireStripe(ctx: ServiceContext) {
  const org = await organizationStripe(ctx.deps.db, ctx.deps.keys, ctx.principal.tenantId, ctx.deps.config.stripeApiUrl);
  if (!org) throw new ConflictError('the organization takes no card payments (no Stripe account)');
  return org;
}

/** The customer's Stripe customer, created once (its Idempotency-Key names the Keelson customer). */
async function ensureStripeCustomer(ctx: ServiceContext, stripe: Stripe, customer: { id: string; name: string }): Promise<string> {
  const tenantId = ctx.principal.tenantId;
  const [existing] = await ctx.deps.db.select().from(stripeCustomers).where(and(eq(stripeCustomers.tenantId, tenantId), eq(stripeCustomers.customerId, customer.id)));
  if (existing) return existing.stripeCustomerId;
  const created = await stripe.customers.create({ name: customer.name, metadata: { keelson_tenant: tenantId, keelson_customer: customer.id } }, { idempotencyKey: `customer/${tenantId}/${customer.id}` });
  await ctx.deps.db.insert(stripeCustomers).values({ tenantId, customerId: customer.id, stripeCustomerId: created.id }).onConflictDoNothing();
  const [row] = await ctx.deps.db.select().from(stripeCustomers).where(and(eq(stripeCustomers.tenantId, tenantId), eq(stripeCustomers.customerId, customer.id)));
  return row!.stripeCustomerId;
}

/** A SetupIntent for saving a card for later off-session charges; the portal confirms it with Stripe.js. */
export async function startCardSetup(ctx: ServiceContext, customerId: string) {
  const customer = await visibleCustomer(ctx, customerId);
  const org = await requireStripe(ctx);
  const stripeCustomerId = await ensureStripeCustomer(ctx, org.stripe, customer);
  const intent = await org.stripe.setupIntents.create({ customer: stripeCustomerId, usage: 'off_session', metadata: { keelson_customer: customer.id } });
  return { setupIntentId: intent.id, clientSecret: intent.client_secret!, publishableKey: org.publishableKey };
}

export async function getCard(ctx: ServiceContext, customerId: string) {
  await visibleCustomer(ctx, customerId);
  const [row] = await ctx.deps.db.select().from(stripeCustomers).where(and(eq(stripeCustomers.tenantId, ctx.principal.tenantId), eq(stripeCustomers.customerId, customerId)));
  if (!row?.paymentMethodId) return { card: null };
  return { card: { brand: row.cardBrand ?? 'card', last4: row.cardLast4 ?? '', expMonth: row.cardExpMonth, expYear: row.cardExpYear, updatedAt: row.updatedAt.toISOString() } };
}

/**
 * Keeps the card the customer's browser confirmed (the SetupIntent's payment method): attached to
 * their Stripe customer, made its default, and its brand, last four digits and expiry stored to
 * show. Off-session charges use it from then on.
 */
export async function saveCard(ctx: ServiceContext, customerId: string, body: { paymentMethodId: string }) {
  const customer = await visibleCustomer(ctx, customerId);
  const org = await requireStripe(ctx);
  const stripeCustomerId = await ensureStripeCustomer(ctx, org.stripe, customer);
  let pm: Stripe.PaymentMethod;
  try {
    pm = await org.stripe.paymentMethods.attach(body.paymentMethodId, { customer: stripeCustomerId });
  } catch (err) {
    if (err instanceof Stripe.errors.StripeInvalidRequestError || err instanceof Stripe.errors.StripeCardError) throw new ValidationError(`paymentMethodId: Stripe refused it (${err.message.slice(0, 200)})`);
    throw err;
  }
  await org.stripe.customers.update(stripeCustomerId, { invoice_settings: { default_payment_method: pm.id } });
  await ctx.deps.db.transaction(async (tx) => {
    await tx
      .update(stripeCustomers)
      .set({ paymentMethodId: pm.id, cardBrand: pm.card?.brand ?? null, cardLast4: pm.card?.last4 ?? null, cardExpMonth: pm.card?.exp_month ?? null, cardExpYear: pm.card?.exp_year ?? null, updatedAt: new Date() })
      .where(and(eq(stripeCustomers.tenantId, ctx.principal.tenantId), eq(stripeCustomers.customerId, customerId)));
    await writeAudit(tx, { ...auditActor(ctx), action: 'payment.card.save', resourceType: 'customer', resourceId: customerId, details: { brand: pm.card?.brand ?? null, last4: pm.card?.last4 ?? null } });
  });
  return getCard(ctx, customerId);
}

/** The net amount whose line, taxed at `rateBp` and rounded once, totals exactly `grossMinor`; null if none does. */
function netForGross(grossMinor: number, rateBp: number): number | null {
  const guess = Math.round((grossMinor * 10_000) / (10_000 + rateBp));
  for (const net of [guess, guess - 1, guess + 1]) if (net > 0 && lineAmounts(1, net, rateBp).totalMinor === grossMinor) return net;
  return null;
}

export interface RefundBody {
  amountMinor: number;
  reason: string;
  /** Makes the request idempotent: the same key issues one credit note and one refund. */
  key?: string;
}

/**
 * A refund is a credit note and money returned (decision 0026): the credit note (numbered, at the
 * invoice's tax rate, key `refund/<payment>/<key>`) says why; a card payment is refunded through
 * Stripe with the credit note's id as Idempotency-Key; the refund row ties both to the payment.
 * A retry with the same key finds the same credit note and refund. The invoice's balance does not
 * move (less owed, as much returned); the credit note is emailed like any other.
 */
export async function refundPayment(ctx: ServiceContext, paymentId: string, body: RefundBody) {
  const tenantId = ctx.principal.tenantId;
  const [payment] = await ctx.deps.db.select().from(payments).where(and(eq(payments.tenantId, tenantId), eq(payments.id, paymentId)));
  if (!payment || customerScope(ctx)) throw new NotFoundError('payment');
  if (!payment.invoiceId) throw new ConflictError('this payment has no invoice to credit');
  const invoiceId = payment.invoiceId;
  const [refunded] = await ctx.deps.db.select({ total: sql<string>`coalesce(sum(${refunds.amountMinor}), 0)` }).from(refunds).where(eq(refunds.paymentId, payment.id));
  const key = `refund/${payment.id}/${body.key ?? randomUUID()}`;
  const [known] = await ctx.deps.db.select({ id: creditNotes.id }).from(creditNotes).where(and(eq(creditNotes.tenantId, tenantId), eq(creditNotes.key, key)));
  if (!known && Number(refunded!.total) + body.amountMinor > payment.amountMinor) throw new ValidationError(`amountMinor: more than is left of the payment (${payment.amountMinor - Number(refunded!.total)})`);
  const [line] = await ctx.deps.db.select({ rateBp: invoiceLines.taxRateBp }).from(invoiceLines).where(eq(invoiceLines.invoiceId, invoiceId)).limit(1);
  const net = netForGross(body.amountMinor, line?.rateBp ?? 0);
  if (net === null) throw new ValidationError(`amountMinor: ${body.amountMinor} cannot be split into net and tax at the invoice's rate; try one minor unit more or less`);
  const note = await ctx.deps.db.transaction(async (tx) => {
    const out = await ledgerCall(() => issueCreditNote(tx, { tenantId, invoiceId, key, reason: body.reason, lines: [{ description: `Refund: ${body.reason}`.slice(0, 500), quantity: 1, unitPriceMinor: net }], now: new Date() }));
    if (out.created) await writeAudit(tx, { ...auditActor(ctx), action: 'credit_note.create', resourceType: 'credit_note', resourceId: out.creditNoteId, details: { invoiceId, number: out.number, reason: body.reason, refundOf: payment.id } });
    return out;
  });
  let providerRefundId: string | null = null;
  if (payment.provider === 'stripe') {
    const org = await requireStripe(ctx);
    const refund = await org.stripe.refunds.create({ payment_intent: payment.providerPaymentId, amount: body.amountMinor, metadata: { keelson_credit_note: note.creditNoteId } }, { idempotencyKey: `refund/${note.creditNoteId}` });
    providerRefundId = refund.id;
  }
  const recorded = await ctx.deps.db.transaction(async (tx) => {
    const out = await ledgerCall(() => recordRefund(tx, { tenantId, paymentId: payment.id, creditNoteId: note.creditNoteId, amountMinor: body.amountMinor, reason: body.reason, providerRefundId, recordedBy: `${ctx.principal.actorType}:${ctx.principal.actorId}` }));
    if (out.created) await writeAudit(tx, { ...auditActor(ctx), action: 'payment.refund', resourceType: 'payment', resourceId: payment.id, details: { amountMinor: body.amountMinor, creditNoteId: note.creditNoteId, providerRefundId } });
    return out;
  });
  if (note.created) {
    await startWorkflowRun(ctx, {
      operation: BillingOperation.creditNote,
      workflowType: WorkflowType.issueCreditNote,
      workflowId: WorkflowId.creditNote(note.creditNoteId),
      input: { creditNoteId: note.creditNoteId },
      resources: [`credit_note:${note.creditNoteId}`, `invoice:${invoiceId}`, customerResource(payment.customerId)],
    });
  }
  return { refundId: recorded.refundId, created: recorded.created, creditNoteId: note.creditNoteId, creditNoteNumber: note.number, providerRefundId, ...(await invoicePayments(ctx, invoiceId)) };
}
