import { createRoute } from '@hono/zod-openapi';
import { authenticate } from '../../auth/middleware';
import { createRouter } from '../../router';
import { describeCaller } from '../../services/auth-service';
import { MeSchema } from './schema';

export function meRoute() {
  return createRouter().openapi(
    createRoute({
      method: 'get',
      path: '/me',
      tags: ['auth'],
      summary: 'Who is calling: user or API key, organization, role and permissions',
      middleware: [authenticate] as const,
      responses: {
        200: { description: 'The caller', content: { 'application/json': { schema: MeSchema } } },
        401: { description: 'Not signed in' },
      },
    }),
    async (c) => {
      const caller = await describeCaller(c.get('deps').db, c.get('principal'));
      return c.json(MeSchema.parse(caller), 200);
    },
  );
}
