import { createRoute, z } from '@hono/zod-openapi';
import { TaskQueue } from '@keelson/common/constants';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { errorResponses, jsonBody, jsonResponse, UuidParam } from '../../schemas';
import { serviceContext } from '../../services/context';
import { listNodes, presentNode, registerNode, removeNode, requireNode } from '../../services/nodes-service';
import { NodeListSchema, NodeSchema, RegisteredNode, RegisterNodeBody } from './schema';

const list = createRoute({
  method: 'get',
  path: '/',
  tags: ['nodes'],
  summary: 'Docker hosts of the organization with health and capacity',
  middleware: [requirePermission('node.read')] as const,
  responses: { 200: jsonResponse(NodeListSchema, 'Nodes'), ...errorResponses },
});

const get = createRoute({
  method: 'get',
  path: '/{id}',
  tags: ['nodes'],
  summary: 'One node',
  middleware: [requirePermission('node.read')] as const,
  request: { params: UuidParam },
  responses: { 200: jsonResponse(NodeSchema, 'The node'), ...errorResponses },
});

const register = createRoute({
  method: 'post',
  path: '/',
  tags: ['nodes'],
  summary: 'Register a Docker host; it turns online when its worker reports',
  middleware: [requirePermission('node.manage')] as const,
  request: { body: jsonBody(RegisterNodeBody) },
  responses: { 201: jsonResponse(RegisteredNode, 'The node, and how to run its worker'), ...errorResponses },
});

const remove = createRoute({
  method: 'delete',
  path: '/{id}',
  tags: ['nodes'],
  summary: 'Forget a node that has no live containers',
  middleware: [requirePermission('node.manage')] as const,
  request: { params: UuidParam },
  responses: { 204: { description: 'Removed' }, ...errorResponses },
});

/** Mounted at /api/nodes. */
export function nodesRoutes() {
  return createRouter()
    .openapi(list, async (c) => c.json({ items: z.array(NodeSchema).parse(await listNodes(serviceContext(c))) }, 200))
    .openapi(get, async (c) => c.json(NodeSchema.parse(presentNode(await requireNode(serviceContext(c), c.req.valid('param').id))), 200))
    .openapi(register, async (c) => {
      const node = await registerNode(serviceContext(c), c.req.valid('json'));
      const workerEnv = { KEELSON_NODE_IDS: node.id, KEELSON_CORE_WORKER: 'false', TASK_QUEUE: TaskQueue.node(node.id) };
      return c.json(RegisteredNode.parse({ ...node, workerEnv }), 201);
    })
    .openapi(remove, async (c) => {
      await removeNode(serviceContext(c), c.req.valid('param').id);
      return c.body(null, 204);
    });
}
