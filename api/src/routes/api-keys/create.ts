import { createRoute } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { createApiKey } from '../../services/api-keys-service';
import { CreateApiKeyBodySchema, CreatedApiKeySchema, toApiKey } from './schema';

const DAY_MS = 24 * 3600 * 1000;

export function createApiKeyRoute() {
  return createRouter().openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: ['api-keys'],
      summary: 'Create an API key; the full key is in this response only',
      middleware: [requirePermission('apikey.manage')] as const,
      request: { body: { required: true, content: { 'application/json': { schema: CreateApiKeyBodySchema } } } },
      responses: {
        201: { description: 'Created', content: { 'application/json': { schema: CreatedApiKeySchema } } },
        400: { description: 'Malformed body or unknown scope' },
        401: { description: 'Not signed in' },
        403: { description: 'Missing apikey.manage or X-CSRF-Token, or scopes beyond your own' },
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const expiresAt = body.expiresAt
        ? new Date(body.expiresAt)
        : body.expiresInDays
          ? new Date(Date.now() + body.expiresInDays * DAY_MS)
          : null;
      const { key, record } = await createApiKey(c.get('deps').db, c.get('principal'), c.get('meta'), {
        name: body.name,
        scopes: body.scopes,
        expiresAt,
      });
      return c.json({ key, apiKey: toApiKey(record) }, 201);
    },
  );
}
