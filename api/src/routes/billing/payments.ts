import { createRoute, z } from '@hono/zod-openapi';
import { requirePermission, requireStaff } from '../../auth/middleware';
import { createRouter } from '../../router';
import { ErrorSchema, errorResponses, jsonBody, jsonResponse, UuidParam } from '../../schemas';
import { getCard, getStripeSettings, invoicePayments, payInvoice, payWithSavedCard, putStripeSettings, receiveStripeWebhook, recordManualPayment, refundPayment, saveCard, startCardSetup } from '../../services/billing/payments-service';
import { serviceContext } from '../../services/context';
import { CardBody, CardSchema, CheckoutSchema, SavedCardChargeSchema, InvoicePaymentsSchema, ManualPaymentBody, RecordedSchema, RefundBody, RefundedSchema, SetupSchema, StripeSettingsBody, StripeSettingsSchema } from './payments-schema';

export { InvoicePaymentsSchema } from './payments-schema';

const tags = ['billing', 'payments'];
const read = [requirePermission('billing.read')];
const manage = [requirePermission('billing.manage')];
const staffOnly = [requirePermission('billing.read'), requireStaff];
const pay = [requirePermission('billing.pay')];

const listPayments = createRoute({ method: 'get', path: '/{id}/payments', tags, summary: "The invoice's payments and balance (from the ledger)", middleware: read, request: { params: UuidParam }, responses: { 200: jsonResponse(InvoicePaymentsSchema, 'Payments and balance'), ...errorResponses } });
const addPayment = createRoute({
  method: 'post',
  path: '/{id}/payments',
  tags,
  summary: 'Record a payment received by hand (bank transfer, cash): partial, full, or more (the rest is credit)',
  middleware: manage,
  request: { params: UuidParam, body: jsonBody(ManualPaymentBody) },
  responses: { 201: jsonResponse(RecordedSchema, 'Recorded (or, for a repeated key, the first one)'), ...errorResponses },
});

const payNow = createRoute({
  method: 'post',
  path: '/{id}/pay',
  tags,
  summary: '"Pay now": a PaymentIntent for the balance, for Stripe.js to confirm (asked again while open: the same one)',
  middleware: pay,
  request: { params: UuidParam },
  responses: { 201: jsonResponse(CheckoutSchema, 'The PaymentIntent to confirm'), ...errorResponses },
});

const payWithCard = createRoute({
  method: 'post',
  path: '/{id}/pay/saved-card',
  tags,
  summary: '"Pay now" with the card on file: the balance charged to the saved card (asked again while one is on its way: its answer, no second charge)',
  middleware: pay,
  request: { params: UuidParam },
  responses: { 201: jsonResponse(SavedCardChargeSchema, 'What Stripe answered'), ...errorResponses },
});

/** Mounted at /api/invoices beside the invoice routes. */
export function invoicePaymentsRoutes() {
  return createRouter()
    .openapi(payNow, async (c) => c.json(CheckoutSchema.parse(await payInvoice(serviceContext(c), c.req.valid('param').id)), 201))
    .openapi(payWithCard, async (c) => c.json(SavedCardChargeSchema.parse(await payWithSavedCard(serviceContext(c), c.req.valid('param').id)), 201))
    .openapi(listPayments, async (c) => c.json(InvoicePaymentsSchema.parse(await invoicePayments(serviceContext(c), c.req.valid('param').id)), 200))
    .openapi(addPayment, async (c) => c.json(RecordedSchema.parse(await recordManualPayment(serviceContext(c), c.req.valid('param').id, c.req.valid('json'))), 201));
}

const getStripe = createRoute({ method: 'get', path: '/stripe', tags, summary: "The organization's Stripe account (secrets masked)", middleware: staffOnly, responses: { 200: jsonResponse(StripeSettingsSchema, 'The settings'), ...errorResponses } });
const putStripe = createRoute({
  method: 'put',
  path: '/stripe',
  tags,
  summary: 'Set the Stripe keys (write-only, sealed); starts the hourly reconciliation Schedule',
  middleware: manage,
  request: { body: jsonBody(StripeSettingsBody) },
  responses: { 200: jsonResponse(StripeSettingsSchema, 'Stored'), ...errorResponses },
});

/** Mounted at /api/billing. */
export function stripeSettingsRoutes() {
  return createRouter()
    .openapi(getStripe, async (c) => c.json(StripeSettingsSchema.parse(await getStripeSettings(serviceContext(c))), 200))
    .openapi(putStripe, async (c) => c.json(StripeSettingsSchema.parse(await putStripeSettings(serviceContext(c), c.req.valid('json'))), 200));
}

const WebhookParams = z.object({ tenantId: z.uuid({ error: 'must be an organization id (UUID)' }).openapi({ param: { name: 'tenantId', in: 'path' } }) });
const Outcome = z.object({ outcome: z.string(), reason: z.string() }).openapi('StripeWebhookOutcome');
const receive = createRoute({
  method: 'post',
  path: '/{tenantId}',
  tags: ['webhooks', 'payments'],
  summary: 'Stripe events of an organization (Stripe-Signature over the raw body, 300 s tolerance)',
  description:
    'Verified before anything is parsed. Each event id is taken once and answered as soon as it is recorded; a PaymentIntent event is then handed to its PaymentIntent run, which reads the PaymentIntent from Stripe before recording anything (200). A repeated event changes nothing (200).',
  request: { params: WebhookParams },
  responses: {
    200: jsonResponse(Outcome, 'Accepted, a duplicate, or ignored with a reason'),
    400: jsonResponse(Outcome, 'Missing, stale or wrong signature, or not an event'),
    413: jsonResponse(ErrorSchema, 'Body larger than 1 MiB'),
  },
});

/** Mounted at /api/webhooks/stripe; no session: each request proves itself with the organization's signing secret. */
export function stripeWebhookRoutes() {
  return createRouter().openapi(receive, async (c) => {
    const rawBody = Buffer.from(await c.req.arrayBuffer());
    const { status, ...result } = await receiveStripeWebhook(c.get('deps'), c.req.valid('param').tenantId, rawBody, (n) => c.req.header(n));
    return c.json(result, status as 200);
  });
}

const getCardRoute = createRoute({ method: 'get', path: '/{id}/card', tags, summary: "The customer's saved card (brand, last four digits, expiry)", middleware: read, request: { params: UuidParam }, responses: { 200: jsonResponse(CardSchema, 'The card, or null'), ...errorResponses } });
const setupCard = createRoute({ method: 'post', path: '/{id}/card/setup', tags, summary: 'A SetupIntent to save a card for later charges (Stripe.js confirms it)', middleware: pay, request: { params: UuidParam }, responses: { 201: jsonResponse(SetupSchema, 'The SetupIntent'), ...errorResponses } });
const putCard = createRoute({ method: 'put', path: '/{id}/card', tags, summary: 'Keep the confirmed card: attached to the Stripe customer and made its default', middleware: pay, request: { params: UuidParam, body: jsonBody(CardBody) }, responses: { 200: jsonResponse(CardSchema, 'The card'), ...errorResponses } });

/** Mounted at /api/customers. */
export function customerCardRoutes() {
  return createRouter()
    .openapi(getCardRoute, async (c) => c.json(CardSchema.parse(await getCard(serviceContext(c), c.req.valid('param').id)), 200))
    .openapi(setupCard, async (c) => c.json(SetupSchema.parse(await startCardSetup(serviceContext(c), c.req.valid('param').id)), 201))
    .openapi(putCard, async (c) => c.json(CardSchema.parse(await saveCard(serviceContext(c), c.req.valid('param').id, c.req.valid('json'))), 200));
}

const refund = createRoute({
  method: 'post',
  path: '/{id}/refund',
  tags,
  summary: 'Refund a payment: a credit note for the amount and the money returned (through Stripe for a card payment)',
  middleware: manage,
  request: { params: UuidParam, body: jsonBody(RefundBody) },
  responses: { 201: jsonResponse(RefundedSchema, 'The credit note and the refund'), ...errorResponses },
});

/** Mounted at /api/payments. */
export function paymentsRoutes() {
  return createRouter().openapi(refund, async (c) => c.json(RefundedSchema.parse(await refundPayment(serviceContext(c), c.req.valid('param').id, c.req.valid('json'))), 201));
}
