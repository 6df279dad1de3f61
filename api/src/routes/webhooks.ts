import { createRoute, z } from '@hono/zod-openapi';
import { WEBHOOK_PROVIDERS } from '@keelson/db/schema';
import { createRouter } from '../router';
import { ErrorSchema, jsonResponse } from '../schemas';
import { receiveWebhook } from '../services/webhooks-service';

const Params = z.object({
  provider: z.enum(WEBHOOK_PROVIDERS).openapi({ param: { name: 'provider', in: 'path' } }),
  appId: z.uuid({ error: 'must be an app id (UUID)' }).openapi({ param: { name: 'appId', in: 'path' } }),
});

const Outcome = z
  .object({ outcome: z.string(), reason: z.string(), deliveryId: z.string().optional(), releaseId: z.string().optional(), workflowId: z.string().optional() })
  .openapi('WebhookOutcome');

const receive = createRoute({
  method: 'post',
  path: '/{provider}/{appId}',
  tags: ['webhooks'],
  summary: 'Push webhook from GitHub (X-Hub-Signature-256) or GitLab (X-Gitlab-Token)',
  description:
    'Verified before anything is parsed. A push to the app branch queues a deploy (202); other branches, events and unknown apps are ignored (202); a redelivery (same X-GitHub-Delivery / X-Gitlab-Event-UUID) starts nothing (200).',
  request: { params: Params },
  responses: {
    200: jsonResponse(Outcome, 'Ping, or a duplicate delivery: nothing started'),
    202: jsonResponse(Outcome, 'Queued a deploy, or ignored with a reason'),
    400: jsonResponse(Outcome, 'Verified, but not a push payload'),
    401: jsonResponse(Outcome, 'Signature or token does not verify'),
    413: jsonResponse(ErrorSchema, 'Body larger than 1 MiB'),
    503: jsonResponse(Outcome, 'The deploy could not be queued; redeliver later'),
  },
});

/** Mounted at /api/webhooks; no session or API key: each request proves itself with the app's secret. */
export function webhooksRoutes() {
  return createRouter().openapi(receive, async (c) => {
    const { provider, appId } = c.req.valid('param');
    const rawBody = Buffer.from(await c.req.arrayBuffer());
    const { status, ...result } = await receiveWebhook(c.get('deps'), c.get('meta'), { provider, appId, rawBody, headers: { get: (n) => c.req.header(n) } });
    return c.json(result, status);
  });
}
