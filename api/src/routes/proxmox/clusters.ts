import { createRoute, z } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { errorResponses, jsonBody, jsonResponse, UuidParam } from '../../schemas';
import { serviceContext } from '../../services/context';
import { createCluster, deleteCluster, listClusters, presentCluster, requireCluster, updateCluster } from '../../services/proxmox-clusters-service';
import { ClusterBody, ClusterListSchema, ClusterPatch, ClusterSchema, CreatedClusterSchema } from './schema';

const tags = ['proxmox'];
const read = [requirePermission('proxmox.read')];
// Clusters hold API tokens: changing them is for admins and owners.
const manage = [requirePermission('proxmox.cluster.manage')];

const list = createRoute({ method: 'get', path: '/', tags, summary: 'Proxmox clusters', middleware: read, responses: { 200: jsonResponse(ClusterListSchema, 'Clusters'), ...errorResponses } });
const get = createRoute({ method: 'get', path: '/{id}', tags, summary: 'One cluster', middleware: read, request: { params: UuidParam }, responses: { 200: jsonResponse(ClusterSchema, 'The cluster'), ...errorResponses } });
const create = createRoute({
  method: 'post',
  path: '/',
  tags,
  summary: 'Add a cluster; its connection (pinned CA, API token) is checked first',
  middleware: manage,
  request: { body: jsonBody(ClusterBody) },
  responses: { 201: jsonResponse(CreatedClusterSchema, 'Added'), ...errorResponses },
});
const update = createRoute({
  method: 'patch',
  path: '/{id}',
  tags,
  summary: 'Change a cluster; changed connection settings are checked first',
  middleware: manage,
  request: { params: UuidParam, body: jsonBody(ClusterPatch) },
  responses: { 200: jsonResponse(ClusterSchema, 'Updated'), ...errorResponses },
});
const remove = createRoute({
  method: 'delete',
  path: '/{id}',
  tags,
  summary: 'Forget a cluster that has no guests left',
  middleware: manage,
  request: { params: UuidParam },
  responses: { 204: { description: 'Removed' }, ...errorResponses },
});

/** Mounted at /api/proxmox/clusters. */
export function proxmoxClustersRoutes() {
  return createRouter()
    .openapi(list, async (c) => c.json({ items: z.array(ClusterSchema).parse(await listClusters(serviceContext(c))) }, 200))
    .openapi(get, async (c) => c.json(ClusterSchema.parse(presentCluster(await requireCluster(serviceContext(c), c.req.valid('param').id))), 200))
    .openapi(create, async (c) => c.json(CreatedClusterSchema.parse(await createCluster(serviceContext(c), c.req.valid('json'))), 201))
    .openapi(update, async (c) => c.json(ClusterSchema.parse(await updateCluster(serviceContext(c), c.req.valid('param').id, c.req.valid('json'))), 200))
    .openapi(remove, async (c) => {
      await deleteCluster(serviceContext(c), c.req.valid('param').id);
      return c.body(null, 204);
    });
}
