import { createRoute, z } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { errorResponses, jsonBody, jsonResponse, StartedRunSchema, UuidParam } from '../../schemas';
import {
  createManualInvoice,
  creditInvoice,
  creditNotePdf,
  finalizeInvoice,
  getCreditNote,
  getInvoice,
  invoicePdf,
  listCreditNotes,
  listInvoices,
  markPaid,
  resendInvoice,
  voidInvoiceById,
} from '../../services/billing/invoices-service';
import { invoiceDunning } from '../../services/billing/dunning-service';
import { serviceContext } from '../../services/context';
import {
  CreditBody,
  CreditedSchema,
  CreditNoteListQuery,
  CreditNoteListSchema,
  CreditNoteSchema,
  InvoiceDunningSchema,
  InvoiceListQuery,
  InvoiceListSchema,
  InvoiceSchema,
  ManualInvoiceBody,
  VoidBody,
} from './schema';

const tags = ['billing'];
const read = [requirePermission('billing.read')];
const manage = [requirePermission('billing.manage')];
const pdf = { content: { 'application/pdf': { schema: z.string().openapi({ format: 'binary' }) } }, description: 'The PDF' };

const list = createRoute({ method: 'get', path: '/', tags, summary: 'Invoices (a customer user: their own)', middleware: read, request: { query: InvoiceListQuery }, responses: { 200: jsonResponse(InvoiceListSchema, 'Newest first'), ...errorResponses } });
const get = createRoute({ method: 'get', path: '/{id}', tags, summary: 'One invoice with lines, credit notes and emails', middleware: read, request: { params: UuidParam }, responses: { 200: jsonResponse(InvoiceSchema, 'The invoice'), ...errorResponses } });
const getPdf = createRoute({ method: 'get', path: '/{id}/pdf', tags, summary: 'The PDF (a preview for a draft)', middleware: read, request: { params: UuidParam }, responses: { 200: pdf, ...errorResponses } });
const create = createRoute({ method: 'post', path: '/', tags, summary: 'A draft invoice of custom lines', middleware: manage, request: { body: jsonBody(ManualInvoiceBody) }, responses: { 201: jsonResponse(InvoiceSchema, 'The draft'), ...errorResponses } });
const finalize = createRoute({
  method: 'post',
  path: '/{id}/finalize',
  tags,
  summary: 'Number the draft, render its PDF and email it (a billing.issue run)',
  middleware: manage,
  request: { params: UuidParam },
  responses: { 202: jsonResponse(StartedRunSchema, 'The run'), ...errorResponses },
});
const resend = createRoute({ method: 'post', path: '/{id}/resend', tags, summary: 'Email the invoice again (a new email)', middleware: manage, request: { params: UuidParam }, responses: { 202: jsonResponse(StartedRunSchema, 'The run'), ...errorResponses } });
const voidRoute = createRoute({ method: 'post', path: '/{id}/void', tags, summary: 'Void a finalized invoice (its number stays used)', middleware: manage, request: { params: UuidParam, body: jsonBody(VoidBody) }, responses: { 200: jsonResponse(InvoiceSchema, 'Voided'), ...errorResponses } });
const dunning = createRoute({
  method: 'get',
  path: '/{id}/dunning',
  tags,
  summary: "The invoice's dunning ladder as it runs: steps, emails, suspension of its service",
  middleware: read,
  request: { params: UuidParam },
  responses: { 200: jsonResponse(InvoiceDunningSchema, 'The ladder'), ...errorResponses },
});
const paid = createRoute({ method: 'post', path: '/{id}/mark-paid', tags, summary: 'Record a payment in full, by hand', middleware: manage, request: { params: UuidParam }, responses: { 200: jsonResponse(InvoiceSchema, 'Paid'), ...errorResponses } });
const credit = createRoute({
  method: 'post',
  path: '/{id}/credit-notes',
  tags,
  summary: 'Issue a credit note against the invoice (own series), then render and email it',
  middleware: manage,
  request: { params: UuidParam, body: jsonBody(CreditBody) },
  responses: { 201: jsonResponse(CreditedSchema, 'The credit note and its run'), ...errorResponses },
});

const send = (c: { body: (b: Uint8Array, s: 200, h: Record<string, string>) => Response }, f: { filename: string; content: Buffer }) =>
  c.body(new Uint8Array(f.content), 200, { 'content-type': 'application/pdf', 'content-disposition': `inline; filename="${f.filename.replace(/[^\w.-]/g, '_')}"` });

/** Mounted at /api/invoices. */
export function invoicesRoutes() {
  return createRouter()
    .openapi(list, async (c) => c.json(InvoiceListSchema.parse({ items: await listInvoices(serviceContext(c), c.req.valid('query')) }), 200))
    .openapi(get, async (c) => c.json(InvoiceSchema.parse(await getInvoice(serviceContext(c), c.req.valid('param').id)), 200))
    .openapi(getPdf, async (c) => send(c, await invoicePdf(serviceContext(c), c.req.valid('param').id)))
    .openapi(create, async (c) => c.json(InvoiceSchema.parse(await createManualInvoice(serviceContext(c), c.req.valid('json'))), 201))
    .openapi(finalize, async (c) => c.json(StartedRunSchema.parse(await finalizeInvoice(serviceContext(c), c.req.valid('param').id)), 202))
    .openapi(resend, async (c) => c.json(StartedRunSchema.parse(await resendInvoice(serviceContext(c), c.req.valid('param').id)), 202))
    .openapi(voidRoute, async (c) => c.json(InvoiceSchema.parse(await voidInvoiceById(serviceContext(c), c.req.valid('param').id, c.req.valid('json').reason)), 200))
    .openapi(dunning, async (c) => c.json(InvoiceDunningSchema.parse(await invoiceDunning(serviceContext(c), c.req.valid('param').id)), 200))
    .openapi(paid, async (c) => c.json(InvoiceSchema.parse(await markPaid(serviceContext(c), c.req.valid('param').id)), 200))
    .openapi(credit, async (c) => c.json(CreditedSchema.parse(await creditInvoice(serviceContext(c), c.req.valid('param').id, c.req.valid('json'))), 201));
}

const listNotes = createRoute({ method: 'get', path: '/', tags, summary: 'Credit notes (a customer user: their own)', middleware: read, request: { query: CreditNoteListQuery }, responses: { 200: jsonResponse(CreditNoteListSchema, 'Newest first'), ...errorResponses } });
const getNote = createRoute({ method: 'get', path: '/{id}', tags, summary: 'One credit note', middleware: read, request: { params: UuidParam }, responses: { 200: jsonResponse(CreditNoteSchema, 'The credit note'), ...errorResponses } });
const getNotePdf = createRoute({ method: 'get', path: '/{id}/pdf', tags, summary: "The credit note's PDF", middleware: read, request: { params: UuidParam }, responses: { 200: pdf, ...errorResponses } });

/** Mounted at /api/credit-notes. */
export function creditNotesRoutes() {
  return createRouter()
    .openapi(listNotes, async (c) => c.json(CreditNoteListSchema.parse({ items: await listCreditNotes(serviceContext(c), c.req.valid('query')) }), 200))
    .openapi(getNote, async (c) => c.json(CreditNoteSchema.parse(await getCreditNote(serviceContext(c), c.req.valid('param').id)), 200))
    .openapi(getNotePdf, async (c) => send(c, await creditNotePdf(serviceContext(c), c.req.valid('param').id)));
}
