import { createRoute } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { errorResponses, jsonBody, jsonResponse, UuidParam } from '../../schemas';
import { cancelOrder, decideOrder, getOrder, listOrders, placeOrder } from '../../services/billing/orders-service';
import { serviceContext } from '../../services/context';
import { DecisionBody, OrderListQuery, OrderListSchema, OrderSchema, PlaceOrderBody, PlacedOrderSchema } from './schema';

const tags = ['orders'];
const read = [requirePermission('billing.read')];
const place = [requirePermission('order.place')];
const manage = [requirePermission('billing.manage')];

const list = createRoute({
  method: 'get',
  path: '/',
  tags,
  summary: 'Orders, newest first (a customer user: their own)',
  middleware: read,
  request: { query: OrderListQuery },
  responses: { 200: jsonResponse(OrderListSchema, 'Orders'), ...errorResponses },
});
const get = createRoute({ method: 'get', path: '/{id}', tags, summary: 'One order with its service', middleware: read, request: { params: UuidParam }, responses: { 200: jsonResponse(OrderSchema, 'The order'), ...errorResponses } });
const create = createRoute({
  method: 'post',
  path: '/',
  tags,
  summary: 'Order a plan (starts its order.fulfil run: invoice, acceptance, provisioning, activation)',
  middleware: place,
  request: { body: jsonBody(PlaceOrderBody) },
  responses: { 202: jsonResponse(PlacedOrderSchema, 'Placed; the run takes it from here'), ...errorResponses },
});
const decide = (decision: 'accept' | 'reject') =>
  createRoute({
    method: 'post',
    path: `/{id}/${decision}`,
    tags,
    summary: decision === 'accept' ? 'Accept an order waiting for acceptance: it goes on to provisioning' : 'Reject an order waiting for acceptance: it is cancelled and credited',
    middleware: manage,
    request: { params: UuidParam, body: jsonBody(DecisionBody) },
    responses: { 200: jsonResponse(OrderSchema, 'The order'), ...errorResponses },
  });
const cancel = createRoute({
  method: 'post',
  path: '/{id}/cancel',
  tags,
  summary: 'Cancel an order on its way: what provisioning made is removed, the subscription cancelled, the invoice credited',
  middleware: manage,
  request: { params: UuidParam },
  responses: { 200: jsonResponse(OrderSchema, 'The order (its run finishes the cancellation)'), ...errorResponses },
});

/** Mounted at /api/orders. */
export function ordersRoutes() {
  return createRouter()
    .openapi(list, async (c) => c.json(OrderListSchema.parse({ items: await listOrders(serviceContext(c), c.req.valid('query')) }), 200))
    .openapi(get, async (c) => c.json(OrderSchema.parse(await getOrder(serviceContext(c), c.req.valid('param').id)), 200))
    .openapi(create, async (c) => c.json(PlacedOrderSchema.parse(await placeOrder(serviceContext(c), c.req.valid('json'))), 202))
    .openapi(decide('accept'), async (c) => c.json(OrderSchema.parse(await decideOrder(serviceContext(c), c.req.valid('param').id, 'accept', c.req.valid('json').comment)), 200))
    .openapi(decide('reject'), async (c) => c.json(OrderSchema.parse(await decideOrder(serviceContext(c), c.req.valid('param').id, 'reject', c.req.valid('json').comment)), 200))
    .openapi(cancel, async (c) => c.json(OrderSchema.parse(await cancelOrder(serviceContext(c), c.req.valid('param').id)), 200));
}
