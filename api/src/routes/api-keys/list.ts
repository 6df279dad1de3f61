import { createRoute } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { listApiKeys } from '../../services/api-keys-service';
import { ApiKeyListSchema, toApiKey } from './schema';

export function listApiKeysRoute() {
  return createRouter().openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['api-keys'],
      summary: "The organization's API keys, newest first (never their secrets)",
      middleware: [requirePermission('apikey.read')] as const,
      responses: {
        200: { description: 'Keys, including revoked and expired ones', content: { 'application/json': { schema: ApiKeyListSchema } } },
        401: { description: 'Not signed in' },
        403: { description: 'Missing apikey.read' },
      },
    }),
    async (c) => {
      const rows = await listApiKeys(c.get('deps').db, c.get('principal').tenantId);
      return c.json({ items: rows.map(toApiKey) }, 200);
    },
  );
}
