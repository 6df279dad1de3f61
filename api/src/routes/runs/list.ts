import { createRoute } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { errorResponses, jsonResponse } from '../../schemas';
import { serviceContext } from '../../services/context';
import { listRuns } from '../../services/runs-service';
import { ListRunsQuery, ListRunsResponse } from './schema';

const route = createRoute({
  method: 'get',
  path: '/',
  tags: ['runs'],
  summary: "List the organization's runs, newest first",
  middleware: [requirePermission('workflow.read')] as const,
  request: { query: ListRunsQuery },
  responses: { 200: jsonResponse(ListRunsResponse, 'A page of runs'), ...errorResponses },
});

export const listRunsRoute = createRouter().openapi(route, async (c) => {
  const page = await listRuns(serviceContext(c), c.req.valid('query'));
  return c.json(ListRunsResponse.parse(page), 200);
});
