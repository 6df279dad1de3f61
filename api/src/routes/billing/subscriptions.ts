import { createRoute } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { errorResponses, jsonBody, jsonResponse, UuidParam } from '../../schemas';
import { cancelSubscription, changeSubscriptionPlan, createSubscription, getSubscription, listSubscriptions } from '../../services/billing/subscriptions-service';
import { serviceContext } from '../../services/context';
import { listSuspensions, suspendByStaff, unsuspendByStaff } from '../../services/suspension-service';
import { CancelBody, ChangePlanBody, PlanChangeSchema, SubscriptionBody, SubscriptionListQuery, SubscriptionListSchema, SubscriptionSchema, SuspendBody, SuspensionListSchema } from './schema';

const tags = ['billing'];
const read = [requirePermission('billing.read')];
const manage = [requirePermission('billing.manage')];
const suspend = [requirePermission('service.suspend')];

const list = createRoute({ method: 'get', path: '/', tags, summary: 'Subscriptions (a customer user: their own)', middleware: read, request: { query: SubscriptionListQuery }, responses: { 200: jsonResponse(SubscriptionListSchema, 'Newest first'), ...errorResponses } });
const get = createRoute({ method: 'get', path: '/{id}', tags, summary: 'One subscription', middleware: read, request: { params: UuidParam }, responses: { 200: jsonResponse(SubscriptionSchema, 'The subscription'), ...errorResponses } });
const create = createRoute({
  method: 'post',
  path: '/',
  tags,
  summary: "Start a subscription at the plan's price for the cycle (the billing run invoices it)",
  middleware: manage,
  request: { body: jsonBody(SubscriptionBody) },
  responses: { 201: jsonResponse(SubscriptionSchema, 'Created'), ...errorResponses },
});
const cancel = createRoute({
  method: 'post',
  path: '/{id}/cancel',
  tags,
  summary: 'Cancel now, or at the end of the period already invoiced',
  middleware: manage,
  request: { params: UuidParam, body: jsonBody(CancelBody) },
  responses: { 200: jsonResponse(SubscriptionSchema, 'Cancelled (or ending)'), ...errorResponses },
});

const changePlan = createRoute({
  method: 'post',
  path: '/{id}/change-plan',
  tags,
  summary: 'Change the plan now: the unused part of the period credited, the new plan charged to its end, invoiced or credited at once',
  middleware: manage,
  request: { params: UuidParam, body: jsonBody(ChangePlanBody) },
  responses: { 200: jsonResponse(PlanChangeSchema, 'The change'), ...errorResponses },
});

const suspensions = createRoute({
  method: 'get',
  path: '/{id}/suspensions',
  tags,
  summary: "The reasons that hold (or held) the subscription's service: overdue, staff, KYC",
  middleware: read,
  request: { params: UuidParam },
  responses: { 200: jsonResponse(SuspensionListSchema, 'Newest first'), ...errorResponses },
});
const suspendRoute = createRoute({
  method: 'post',
  path: '/{id}/suspend',
  tags,
  summary: "Suspend the subscription's service by hand (reason staff); it is stopped by its suspension run",
  middleware: suspend,
  request: { params: UuidParam, body: jsonBody(SuspendBody) },
  responses: { 202: jsonResponse(SuspensionListSchema, 'The holds of the service (the new one pending until the service is stopped)'), ...errorResponses },
});
const unsuspendRoute = createRoute({
  method: 'post',
  path: '/{id}/unsuspend',
  tags,
  summary: 'Lift the staff suspension; the service runs again only if no other reason (overdue, KYC) holds it',
  middleware: suspend,
  request: { params: UuidParam },
  responses: { 202: jsonResponse(SuspensionListSchema, 'The holds of the service'), ...errorResponses },
});

/** Mounted at /api/subscriptions. */
export function subscriptionsRoutes() {
  return createRouter()
    .openapi(list, async (c) => c.json(SubscriptionListSchema.parse({ items: await listSubscriptions(serviceContext(c), c.req.valid('query')) }), 200))
    .openapi(get, async (c) => c.json(SubscriptionSchema.parse(await getSubscription(serviceContext(c), c.req.valid('param').id)), 200))
    .openapi(create, async (c) => c.json(SubscriptionSchema.parse(await createSubscription(serviceContext(c), c.req.valid('json'))), 201))
    .openapi(cancel, async (c) => c.json(SubscriptionSchema.parse(await cancelSubscription(serviceContext(c), c.req.valid('param').id, c.req.valid('json').when)), 200))
    .openapi(changePlan, async (c) => c.json(PlanChangeSchema.parse(await changeSubscriptionPlan(serviceContext(c), c.req.valid('param').id, c.req.valid('json'))), 200))
    .openapi(suspensions, async (c) => c.json(SuspensionListSchema.parse({ items: await listSuspensions(serviceContext(c), c.req.valid('param').id) }), 200))
    .openapi(suspendRoute, async (c) => c.json(SuspensionListSchema.parse({ items: await suspendByStaff(serviceContext(c), c.req.valid('param').id, c.req.valid('json').note) }), 202))
    .openapi(unsuspendRoute, async (c) => c.json(SuspensionListSchema.parse({ items: await unsuspendByStaff(serviceContext(c), c.req.valid('param').id) }), 202));
}
