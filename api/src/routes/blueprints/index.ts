import { createRoute, z } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { errorResponses, jsonBody, jsonResponse, UuidParam } from '../../schemas';
import {
  createBlueprint,
  deleteBlueprint,
  listBlueprints,
  presentBlueprint,
  requireBlueprint,
  updateBlueprint,
} from '../../services/blueprints-service';
import { serviceContext } from '../../services/context';
import { BlueprintBody, BlueprintListSchema, BlueprintSchema } from './schema';

const tags = ['blueprints'];
const read = [requirePermission('blueprint.read')];
const manage = [requirePermission('blueprint.manage')];

const list = createRoute({ method: 'get', path: '/', tags, summary: 'Container templates', middleware: read, responses: { 200: jsonResponse(BlueprintListSchema, 'Blueprints'), ...errorResponses } });
const get = createRoute({ method: 'get', path: '/{id}', tags, summary: 'One blueprint', middleware: read, request: { params: UuidParam }, responses: { 200: jsonResponse(BlueprintSchema, 'The blueprint'), ...errorResponses } });
const create = createRoute({ method: 'post', path: '/', tags, summary: 'Create a blueprint', middleware: manage, request: { body: jsonBody(BlueprintBody) }, responses: { 201: jsonResponse(BlueprintSchema, 'Created'), ...errorResponses } });
const update = createRoute({ method: 'put', path: '/{id}', tags, summary: 'Replace a blueprint (existing containers keep their snapshot)', middleware: manage, request: { params: UuidParam, body: jsonBody(BlueprintBody) }, responses: { 200: jsonResponse(BlueprintSchema, 'Updated'), ...errorResponses } });
const remove = createRoute({ method: 'delete', path: '/{id}', tags, summary: 'Delete a blueprint', middleware: manage, request: { params: UuidParam }, responses: { 204: { description: 'Deleted' }, ...errorResponses } });

/** Mounted at /api/blueprints. */
export function blueprintsRoutes() {
  return createRouter()
    .openapi(list, async (c) => c.json({ items: z.array(BlueprintSchema).parse(await listBlueprints(serviceContext(c))) }, 200))
    .openapi(get, async (c) => {
      const ctx = serviceContext(c);
      return c.json(BlueprintSchema.parse(presentBlueprint(ctx, await requireBlueprint(ctx, c.req.valid('param').id))), 200);
    })
    .openapi(create, async (c) => c.json(BlueprintSchema.parse(await createBlueprint(serviceContext(c), c.req.valid('json'))), 201))
    .openapi(update, async (c) => c.json(BlueprintSchema.parse(await updateBlueprint(serviceContext(c), c.req.valid('param').id, c.req.valid('json'))), 200))
    .openapi(remove, async (c) => {
      await deleteBlueprint(serviceContext(c), c.req.valid('param').id);
      return c.body(null, 204);
    });
}
