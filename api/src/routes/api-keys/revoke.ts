import { createRoute } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { revokeApiKey } from '../../services/api-keys-service';
import { ApiKeyParamsSchema } from './schema';

export function revokeApiKeyRoute() {
  return createRouter().openapi(
    createRoute({
      method: 'delete',
      path: '/{id}',
      tags: ['api-keys'],
      summary: 'Revoke an API key; it stops working at once',
      middleware: [requirePermission('apikey.manage')] as const,
      request: { params: ApiKeyParamsSchema },
      responses: {
        204: { description: 'Revoked (or already revoked)' },
        400: { description: 'The id is not a UUID' },
        401: { description: 'Not signed in' },
        403: { description: 'Missing apikey.manage or X-CSRF-Token' },
        404: { description: 'No such key in this organization' },
      },
    }),
    async (c) => {
      await revokeApiKey(c.get('deps').db, c.get('principal'), c.get('meta'), c.req.valid('param').id);
      return c.body(null, 204);
    },
  );
}
