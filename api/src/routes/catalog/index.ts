import { createRoute } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { errorResponses, jsonBody, jsonResponse, UuidParam } from '../../schemas';
import {
  createPlan,
  createProduct,
  deletePlan,
  deleteProduct,
  getPlan,
  getProduct,
  listProducts,
  updatePlan,
  updateProduct,
} from '../../services/billing/catalog-service';
import { serviceContext } from '../../services/context';
import { listClusters } from '../../services/proxmox-clusters-service';
import { ClusterChoiceListSchema, PlanBody, PlanSchema, ProductBody, ProductListQuery, ProductListSchema, ProductSchema } from './schema';

const tags = ['catalog'];
const read = [requirePermission('catalog.read')];
const manage = [requirePermission('catalog.manage')];

const listProductsRoute = createRoute({
  method: 'get',
  path: '/products',
  tags,
  summary: 'Products with their plans (customers: only what can be ordered)',
  middleware: read,
  request: { query: ProductListQuery },
  responses: { 200: jsonResponse(ProductListSchema, 'Products by name'), ...errorResponses },
});
const getProductRoute = createRoute({ method: 'get', path: '/products/{id}', tags, summary: 'One product with its plans', middleware: read, request: { params: UuidParam }, responses: { 200: jsonResponse(ProductSchema, 'The product'), ...errorResponses } });
const createProductRoute = createRoute({ method: 'post', path: '/products', tags, summary: 'Create a product', middleware: manage, request: { body: jsonBody(ProductBody) }, responses: { 201: jsonResponse(ProductSchema, 'Created'), ...errorResponses } });
const updateProductRoute = createRoute({ method: 'put', path: '/products/{id}', tags, summary: 'Replace a product', middleware: manage, request: { params: UuidParam, body: jsonBody(ProductBody) }, responses: { 200: jsonResponse(ProductSchema, 'Updated'), ...errorResponses } });
const deleteProductRoute = createRoute({ method: 'delete', path: '/products/{id}', tags, summary: 'Delete a product no subscription uses', middleware: manage, request: { params: UuidParam }, responses: { 204: { description: 'Deleted' }, ...errorResponses } });
const createPlanRoute = createRoute({
  method: 'post',
  path: '/products/{id}/plans',
  tags,
  summary: 'Add a plan to a product',
  middleware: manage,
  request: { params: UuidParam, body: jsonBody(PlanBody) },
  responses: { 201: jsonResponse(PlanSchema, 'Created'), ...errorResponses },
});
const getPlanRoute = createRoute({ method: 'get', path: '/plans/{id}', tags, summary: 'One plan', middleware: read, request: { params: UuidParam }, responses: { 200: jsonResponse(PlanSchema, 'The plan'), ...errorResponses } });
const updatePlanRoute = createRoute({
  method: 'put',
  path: '/plans/{id}',
  tags,
  summary: 'Replace a plan (running subscriptions keep their price)',
  middleware: manage,
  request: { params: UuidParam, body: jsonBody(PlanBody) },
  responses: { 200: jsonResponse(PlanSchema, 'Updated'), ...errorResponses },
});
const deletePlanRoute = createRoute({ method: 'delete', path: '/plans/{id}', tags, summary: 'Delete a plan no subscription uses', middleware: manage, request: { params: UuidParam }, responses: { 204: { description: 'Deleted' }, ...errorResponses } });
// Those who write plans need the clusters' names and default templates, not proxmox.read (which
// shows every VM and how to reach the cluster): the answer carries no URL, token or CA.
const listClustersRoute = createRoute({
  method: 'get',
  path: '/clusters',
  tags,
  summary: 'Proxmox clusters a plan can provision on: names and default templates',
  middleware: manage,
  responses: { 200: jsonResponse(ClusterChoiceListSchema, 'Clusters by name'), ...errorResponses },
});

/** Mounted at /api/catalog. */
export function catalogRoutes() {
  return createRouter()
    .openapi(listProductsRoute, async (c) => c.json(ProductListSchema.parse({ items: await listProducts(serviceContext(c), c.req.valid('query')) }), 200))
    .openapi(getProductRoute, async (c) => c.json(ProductSchema.parse(await getProduct(serviceContext(c), c.req.valid('param').id)), 200))
    .openapi(createProductRoute, async (c) => c.json(ProductSchema.parse(await createProduct(serviceContext(c), c.req.valid('json'))), 201))
    .openapi(updateProductRoute, async (c) => c.json(ProductSchema.parse(await updateProduct(serviceContext(c), c.req.valid('param').id, c.req.valid('json'))), 200))
    .openapi(deleteProductRoute, async (c) => {
      await deleteProduct(serviceContext(c), c.req.valid('param').id);
      return c.body(null, 204);
    })
    .openapi(createPlanRoute, async (c) => c.json(PlanSchema.parse(await createPlan(serviceContext(c), c.req.valid('param').id, c.req.valid('json'))), 201))
    .openapi(getPlanRoute, async (c) => c.json(PlanSchema.parse(await getPlan(serviceContext(c), c.req.valid('param').id)), 200))
    .openapi(updatePlanRoute, async (c) => c.json(PlanSchema.parse(await updatePlan(serviceContext(c), c.req.valid('param').id, c.req.valid('json'))), 200))
    .openapi(deletePlanRoute, async (c) => {
      await deletePlan(serviceContext(c), c.req.valid('param').id);
      return c.body(null, 204);
    })
    .openapi(listClustersRoute, async (c) => c.json(ClusterChoiceListSchema.parse({ items: await listClusters(serviceContext(c)) }), 200));
}

export type CatalogRoutes = ReturnType<typeof catalogRoutes>;
