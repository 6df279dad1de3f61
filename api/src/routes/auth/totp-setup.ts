import { createRoute } from '@hono/zod-openapi';
import { authenticate } from '../../auth/middleware';
import { createRouter } from '../../router';
import { startTotpSetup } from '../../services/auth-service';
import { TotpSetupSchema } from './schema';

export function totpSetupRoute() {
  return createRouter().openapi(
    createRoute({
      method: 'post',
      path: '/totp/setup',
      tags: ['auth'],
      summary: 'A new TOTP secret to scan; nothing changes until POST /api/auth/totp/enable',
      middleware: [authenticate] as const,
      responses: {
        200: { description: 'A fresh secret', content: { 'application/json': { schema: TotpSetupSchema } } },
        401: { description: 'Not signed in' },
        403: { description: 'Missing X-CSRF-Token, or called with an API key' },
        409: { description: 'Two-factor is already enabled' },
      },
    }),
    async (c) => {
      const setup = await startTotpSetup(c.get('deps').db, c.get('principal'), c.get('meta'));
      return c.json(TotpSetupSchema.parse(setup), 200);
    },
  );
}
