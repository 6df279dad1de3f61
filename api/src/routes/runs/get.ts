import { createRoute } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { errorResponses, jsonResponse } from '../../schemas';
import { serviceContext } from '../../services/context';
import { getRun } from '../../services/runs-service';
import { RunDetailSchema, RunIdParams, RunIdQuery } from './schema';

const route = createRoute({
  method: 'get',
  path: '/{workflowId}',
  tags: ['runs'],
  summary: 'A run with its steps, errors, what it waits for, and (if allowed) decoded payloads',
  middleware: [requirePermission('workflow.read')] as const,
  request: { params: RunIdParams, query: RunIdQuery },
  responses: { 200: jsonResponse(RunDetailSchema, 'The run'), ...errorResponses },
});

export const getRunRoute = createRouter().openapi(route, async (c) => {
  const run = await getRun(serviceContext(c), c.req.valid('param').workflowId, c.req.valid('query').runId);
  return c.json(RunDetailSchema.parse(run), 200);
});
