import { createRoute, z } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { errorResponses, jsonBody, jsonResponse, StartedRunSchema, UuidParam } from '../../schemas';
import {
  createContainer,
  listContainers,
  powerContainer,
  presentContainer,
  removeContainer,
  requireContainer,
} from '../../services/containers-service';
import { serviceContext } from '../../services/context';
import { CreateContainerInput } from '../../services/operations';
import { ContainerActionBody, ContainerCreated, ContainerListSchema, ContainerSchema, ListContainersQuery } from './schema';

const tags = ['containers'];
const read = [requirePermission('container.read')];
const manage = [requirePermission('container.manage', 'workflow.start')];

const list = createRoute({ method: 'get', path: '/', tags, summary: 'Containers of the organization', middleware: read, request: { query: ListContainersQuery }, responses: { 200: jsonResponse(ContainerListSchema, 'Containers'), ...errorResponses } });
const get = createRoute({ method: 'get', path: '/{id}', tags, summary: 'One container', middleware: read, request: { params: UuidParam }, responses: { 200: jsonResponse(ContainerSchema, 'The container'), ...errorResponses } });
const create = createRoute({
  method: 'post',
  path: '/',
  tags,
  summary: 'Create a container from a blueprint on a node (starts a container.create run)',
  middleware: manage,
  request: { body: jsonBody(CreateContainerInput) },
  responses: { 201: jsonResponse(ContainerCreated, 'The container record and its run'), ...errorResponses },
});
const action = createRoute({
  method: 'post',
  path: '/{id}/actions',
  tags,
  summary: 'Start, stop or restart (starts a run)',
  middleware: manage,
  request: { params: UuidParam, body: jsonBody(ContainerActionBody) },
  responses: { 202: jsonResponse(StartedRunSchema, 'The run'), ...errorResponses },
});
const remove = createRoute({ method: 'delete', path: '/{id}', tags, summary: 'Remove the container (starts a container.remove run)', middleware: manage, request: { params: UuidParam }, responses: { 202: jsonResponse(StartedRunSchema, 'The run'), ...errorResponses } });

/** Mounted at /api/containers. */
export function containersRoutes() {
  return createRouter()
    .openapi(list, async (c) => c.json({ items: z.array(ContainerSchema).parse(await listContainers(serviceContext(c), c.req.valid('query'))) }, 200))
    .openapi(get, async (c) => c.json(ContainerSchema.parse(presentContainer(await requireContainer(serviceContext(c), c.req.valid('param').id))), 200))
    .openapi(create, async (c) => c.json(ContainerCreated.parse(await createContainer(serviceContext(c), c.req.valid('json'))), 201))
    .openapi(action, async (c) => {
      const { action: verb, stopTimeoutSeconds } = c.req.valid('json');
      return c.json(await powerContainer(serviceContext(c), c.req.valid('param').id, verb, stopTimeoutSeconds), 202);
    })
    .openapi(remove, async (c) => c.json(await removeContainer(serviceContext(c), c.req.valid('param').id), 202));
}
