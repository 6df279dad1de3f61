import { createRoute } from '@hono/zod-openapi';
import { authenticate } from '../../auth/middleware';
import { createRouter } from '../../router';
import { enableTotp } from '../../services/auth-service';
import { TotpEnableBodySchema, TwoFactorStatusSchema } from './schema';

export function totpEnableRoute() {
  return createRouter().openapi(
    createRoute({
      method: 'post',
      path: '/totp/enable',
      tags: ['auth'],
      summary: 'Turn on two-factor with the secret from setup and a current code',
      middleware: [authenticate] as const,
      request: { body: { required: true, content: { 'application/json': { schema: TotpEnableBodySchema } } } },
      responses: {
        200: { description: 'Two-factor is on', content: { 'application/json': { schema: TwoFactorStatusSchema } } },
        400: { description: 'Malformed body, or the code does not match the secret' },
        401: { description: 'Not signed in' },
        403: { description: 'Missing X-CSRF-Token, or called with an API key' },
        409: { description: 'Two-factor is already enabled' },
      },
    }),
    async (c) => {
      const { keys, db } = c.get('deps');
      await enableTotp(db, keys, c.get('principal'), c.get('meta'), c.req.valid('json'));
      return c.json({ twoFactorEnabled: true }, 200);
    },
  );
}
