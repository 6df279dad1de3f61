import { createRoute } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { errorResponses, jsonBody, jsonResponse, StartedRunSchema } from '../../schemas';
import { serviceContext } from '../../services/context';
import { operationCatalog, startOperation } from '../../services/operations';
import { OperationCatalogSchema, StartRunBody } from './schema';

const route = createRoute({
  method: 'post',
  path: '/',
  tags: ['runs'],
  summary: 'Start any operation by name',
  middleware: [requirePermission('workflow.start')] as const,
  request: { body: jsonBody(StartRunBody) },
  responses: { 201: jsonResponse(StartedRunSchema, 'The run that was started'), ...errorResponses },
});

const catalogRoute = createRoute({
  method: 'get',
  path: '/operations',
  tags: ['runs'],
  summary: 'The operations that can be started, with the JSON Schema of their input',
  middleware: [requirePermission('workflow.read')] as const,
  responses: { 200: jsonResponse(OperationCatalogSchema, 'Operations'), ...errorResponses },
});

export const startRunRoute = createRouter()
  .openapi(catalogRoute, (c) => c.json({ items: operationCatalog() }, 200))
  .openapi(route, async (c) => {
    const { operation, input } = c.req.valid('json');
    return c.json(await startOperation(serviceContext(c), operation, input), 201);
  });
