import { createRoute, z } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { errorResponses, jsonBody, jsonResponse, UuidParam } from '../../schemas';
import {
  createApp,
  deployApp,
  listApps,
  listDeliveries,
  listReleases,
  presentApp,
  releasesOf,
  requireApp,
  rollbackApp,
  rotateWebhookSecret,
  updateApp,
} from '../../services/apps-service';
import { serviceContext } from '../../services/context';
import { AppBody, AppListSchema, AppPatch, AppSchema, CreatedAppSchema, DeliveryListSchema, DeliverySchema, DeployBody, QueuedDeploySchema, ReleaseListSchema, ReleaseSchema, RollbackBody, WebhookSecretSchema } from './schema';

const tags = ['apps'];
const read = [requirePermission('app.read')];
const manage = [requirePermission('app.manage')];
const deploy = [requirePermission('app.deploy')];

const list = createRoute({ method: 'get', path: '/', tags, summary: 'Apps deployed from git', middleware: read, responses: { 200: jsonResponse(AppListSchema, 'Apps'), ...errorResponses } });
const get = createRoute({ method: 'get', path: '/{id}', tags, summary: 'One app', middleware: read, request: { params: UuidParam }, responses: { 200: jsonResponse(AppSchema, 'The app'), ...errorResponses } });
const create = createRoute({
  method: 'post',
  path: '/',
  tags,
  summary: 'Create an app (its webhook secret is returned once)',
  middleware: manage,
  request: { body: jsonBody(AppBody) },
  responses: { 201: jsonResponse(CreatedAppSchema, 'Created'), ...errorResponses },
});
const update = createRoute({
  method: 'patch',
  path: '/{id}',
  tags,
  summary: 'Change an app; the next deploy uses the new settings',
  middleware: manage,
  request: { params: UuidParam, body: jsonBody(AppPatch) },
  responses: { 200: jsonResponse(AppSchema, 'Updated'), ...errorResponses },
});
const rotate = createRoute({
  method: 'post',
  path: '/{id}/webhook-secret',
  tags,
  summary: 'Replace the webhook secret (the old one stops verifying at once)',
  middleware: manage,
  request: { params: UuidParam },
  responses: { 200: jsonResponse(WebhookSecretSchema, 'The new secret, shown once'), ...errorResponses },
});
const releasesRoute = createRoute({
  method: 'get',
  path: '/{id}/releases',
  tags,
  summary: 'Releases, newest first',
  middleware: read,
  request: { params: UuidParam },
  responses: { 200: jsonResponse(ReleaseListSchema, 'Releases'), ...errorResponses },
});
const deliveries = createRoute({
  method: 'get',
  path: '/{id}/deliveries',
  tags,
  summary: 'Webhook deliveries and their outcomes, newest first',
  middleware: read,
  request: { params: UuidParam },
  responses: { 200: jsonResponse(DeliveryListSchema, 'Deliveries'), ...errorResponses },
});
const deployRoute = createRoute({
  method: 'post',
  path: '/{id}/deploys',
  tags,
  summary: 'Deploy a commit (default: the head of the app branch)',
  middleware: deploy,
  request: { params: UuidParam, body: jsonBody(DeployBody) },
  responses: { 202: jsonResponse(QueuedDeploySchema, 'Queued'), ...errorResponses },
});
const rollback = createRoute({
  method: 'post',
  path: '/{id}/rollback',
  tags,
  summary: 'Roll back to an earlier release that served, reusing its image',
  middleware: deploy,
  request: { params: UuidParam, body: jsonBody(RollbackBody) },
  responses: { 202: jsonResponse(QueuedDeploySchema, 'Queued'), ...errorResponses },
});

/** Mounted at /api/apps. */
export function appsRoutes() {
  return createRouter()
    .openapi(list, async (c) => c.json({ items: z.array(AppSchema).parse(await listApps(serviceContext(c))) }, 200))
    .openapi(get, async (c) => {
      const ctx = serviceContext(c);
      const app = await requireApp(ctx, c.req.valid('param').id);
      return c.json(AppSchema.parse(presentApp(ctx, app, (await releasesOf(ctx, [app])).get(app.id))), 200);
    })
    .openapi(create, async (c) => c.json(CreatedAppSchema.parse(await createApp(serviceContext(c), c.req.valid('json'))), 201))
    .openapi(update, async (c) => c.json(AppSchema.parse(await updateApp(serviceContext(c), c.req.valid('param').id, c.req.valid('json'))), 200))
    .openapi(rotate, async (c) => c.json(await rotateWebhookSecret(serviceContext(c), c.req.valid('param').id), 200))
    .openapi(releasesRoute, async (c) => c.json({ items: z.array(ReleaseSchema).parse(await listReleases(serviceContext(c), c.req.valid('param').id)) }, 200))
    .openapi(deliveries, async (c) => c.json({ items: z.array(DeliverySchema).parse(await listDeliveries(serviceContext(c), c.req.valid('param').id)) }, 200))
    .openapi(deployRoute, async (c) => c.json(await deployApp(serviceContext(c), c.req.valid('param').id, c.req.valid('json').commit ?? null), 202))
    .openapi(rollback, async (c) => c.json(await rollbackApp(serviceContext(c), c.req.valid('param').id, c.req.valid('json').releaseId), 202));
}
