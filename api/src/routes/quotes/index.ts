import { createRoute } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { errorResponses, jsonBody, jsonResponse, UuidParam } from '../../schemas';
import { acceptQuote, createQuote, declineQuote, getQuote, listQuotes, transitionQuote, updateQuote } from '../../services/billing/quotes-service';
import { serviceContext } from '../../services/context';
import { AcceptQuoteBody, PlacedOrderSchema } from '../orders/schema';
import { QuoteBody, QuoteListQuery, QuoteListSchema, QuoteSchema } from './schema';

const tags = ['quotes'];
const read = [requirePermission('billing.read')];
const manage = [requirePermission('billing.manage')];
const decide = [requirePermission('order.place')];
const quote = { 200: jsonResponse(QuoteSchema, 'The quote'), ...errorResponses };

const list = createRoute({
  method: 'get',
  path: '/',
  tags,
  summary: 'Quotes, newest first (a customer user: their own, once sent)',
  middleware: read,
  request: { query: QuoteListQuery },
  responses: { 200: jsonResponse(QuoteListSchema, 'Quotes'), ...errorResponses },
});
const get = createRoute({ method: 'get', path: '/{id}', tags, summary: 'One quote', middleware: read, request: { params: UuidParam }, responses: quote });
const create = createRoute({
  method: 'post',
  path: '/',
  tags,
  summary: 'Write a quote (a draft until sent)',
  middleware: manage,
  request: { body: jsonBody(QuoteBody) },
  responses: { 201: jsonResponse(QuoteSchema, 'Created'), ...errorResponses },
});
const update = createRoute({ method: 'put', path: '/{id}', tags, summary: 'Replace a draft', middleware: manage, request: { params: UuidParam, body: jsonBody(QuoteBody) }, responses: quote });
const staffAction = (action: 'send' | 'withdraw') =>
  createRoute({
    method: 'post',
    path: `/{id}/${action}`,
    tags,
    summary: action === 'send' ? 'Send a draft: the customer sees it and may accept it until it expires' : 'Withdraw a quote not yet decided',
    middleware: manage,
    request: { params: UuidParam },
    responses: quote,
  });
const accept = createRoute({
  method: 'post',
  path: '/{id}/accept',
  tags,
  summary: 'Accept a sent quote: it becomes an order (once)',
  middleware: decide,
  request: { params: UuidParam, body: jsonBody(AcceptQuoteBody) },
  responses: { 202: jsonResponse(PlacedOrderSchema, 'The order it became, and its run'), ...errorResponses },
});
const decline = createRoute({ method: 'post', path: '/{id}/decline', tags, summary: 'Decline a sent quote', middleware: decide, request: { params: UuidParam }, responses: quote });

/** Mounted at /api/quotes. */
export function quotesRoutes() {
  return createRouter()
    .openapi(list, async (c) => c.json(QuoteListSchema.parse({ items: await listQuotes(serviceContext(c), c.req.valid('query')) }), 200))
    .openapi(get, async (c) => c.json(QuoteSchema.parse(await getQuote(serviceContext(c), c.req.valid('param').id)), 200))
    .openapi(create, async (c) => c.json(QuoteSchema.parse(await createQuote(serviceContext(c), c.req.valid('json'))), 201))
    .openapi(update, async (c) => c.json(QuoteSchema.parse(await updateQuote(serviceContext(c), c.req.valid('param').id, c.req.valid('json'))), 200))
    .openapi(staffAction('send'), async (c) => c.json(QuoteSchema.parse(await transitionQuote(serviceContext(c), c.req.valid('param').id, 'send')), 200))
    .openapi(staffAction('withdraw'), async (c) => c.json(QuoteSchema.parse(await transitionQuote(serviceContext(c), c.req.valid('param').id, 'withdraw')), 200))
    .openapi(accept, async (c) => c.json(PlacedOrderSchema.parse(await acceptQuote(serviceContext(c), c.req.valid('param').id, c.req.valid('json'))), 202))
    .openapi(decline, async (c) => c.json(QuoteSchema.parse(await declineQuote(serviceContext(c), c.req.valid('param').id)), 200));
}
