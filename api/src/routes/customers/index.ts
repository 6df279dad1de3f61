import { createRoute } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { errorResponses, jsonBody, jsonResponse, UuidParam } from '../../schemas';
import {
  createCustomer,
  deleteCustomer,
  getCustomer,
  linkCustomerUser,
  listCustomers,
  listCustomerUsers,
  unlinkCustomerUser,
  updateCustomer,
} from '../../services/billing/customers-service';
import { serviceContext } from '../../services/context';
import {
  CustomerBody,
  CustomerListQuery,
  CustomerListSchema,
  CustomerSchema,
  CustomerUserBody,
  CustomerUserListSchema,
  CustomerUserParams,
  CustomerUserSchema,
} from './schema';

const tags = ['customers'];
const read = [requirePermission('customer.read')];
const manage = [requirePermission('customer.manage')];

const list = createRoute({
  method: 'get',
  path: '/',
  tags,
  summary: "Customers (a customer user: only their own)",
  middleware: read,
  request: { query: CustomerListQuery },
  responses: { 200: jsonResponse(CustomerListSchema, 'Customers by name'), ...errorResponses },
});
const get = createRoute({ method: 'get', path: '/{id}', tags, summary: 'One customer', middleware: read, request: { params: UuidParam }, responses: { 200: jsonResponse(CustomerSchema, 'The customer'), ...errorResponses } });
const create = createRoute({
  method: 'post',
  path: '/',
  tags,
  summary: 'Create a customer',
  middleware: manage,
  request: { body: jsonBody(CustomerBody) },
  responses: { 201: jsonResponse(CustomerSchema, 'Created'), ...errorResponses },
});
const update = createRoute({
  method: 'put',
  path: '/{id}',
  tags,
  summary: 'Replace a customer and its contacts (finalized invoices keep what they printed)',
  middleware: manage,
  request: { params: UuidParam, body: jsonBody(CustomerBody) },
  responses: { 200: jsonResponse(CustomerSchema, 'Updated'), ...errorResponses },
});
const remove = createRoute({
  method: 'delete',
  path: '/{id}',
  tags,
  summary: 'Delete a customer without subscriptions or invoices',
  middleware: manage,
  request: { params: UuidParam },
  responses: { 204: { description: 'Deleted' }, ...errorResponses },
});
const listUsers = createRoute({
  method: 'get',
  path: '/{id}/users',
  tags,
  summary: 'Members who sign in for this customer',
  middleware: manage,
  request: { params: UuidParam },
  responses: { 200: jsonResponse(CustomerUserListSchema, 'Customer users'), ...errorResponses },
});
const linkUser = createRoute({
  method: 'post',
  path: '/{id}/users',
  tags,
  summary: 'Let a member with the customer role sign in for this customer (and see only it)',
  middleware: manage,
  request: { params: UuidParam, body: jsonBody(CustomerUserBody) },
  responses: { 200: jsonResponse(CustomerUserSchema, 'Linked'), ...errorResponses },
});
const unlinkUser = createRoute({
  method: 'delete',
  path: '/{id}/users/{userId}',
  tags,
  summary: 'Stop a member from acting for this customer',
  middleware: manage,
  request: { params: CustomerUserParams },
  responses: { 204: { description: 'Unlinked' }, ...errorResponses },
});

/** Mounted at /api/customers. */
export function customersRoutes() {
  return createRouter()
    .openapi(list, async (c) => c.json(CustomerListSchema.parse({ items: await listCustomers(serviceContext(c), c.req.valid('query')) }), 200))
    .openapi(get, async (c) => c.json(CustomerSchema.parse(await getCustomer(serviceContext(c), c.req.valid('param').id)), 200))
    .openapi(create, async (c) => c.json(CustomerSchema.parse(await createCustomer(serviceContext(c), c.req.valid('json'))), 201))
    .openapi(update, async (c) => c.json(CustomerSchema.parse(await updateCustomer(serviceContext(c), c.req.valid('param').id, c.req.valid('json'))), 200))
    .openapi(remove, async (c) => {
      await deleteCustomer(serviceContext(c), c.req.valid('param').id);
      return c.body(null, 204);
    })
    .openapi(listUsers, async (c) => c.json(CustomerUserListSchema.parse({ items: await listCustomerUsers(serviceContext(c), c.req.valid('param').id) }), 200))
    .openapi(linkUser, async (c) => c.json(CustomerUserSchema.parse(await linkCustomerUser(serviceContext(c), c.req.valid('param').id, c.req.valid('json').userId)), 200))
    .openapi(unlinkUser, async (c) => {
      const { id, userId } = c.req.valid('param');
      await unlinkCustomerUser(serviceContext(c), id, userId);
      return c.body(null, 204);
    });
}

export type CustomersRoutes = ReturnType<typeof customersRoutes>;
