import { createRoute } from '@hono/zod-openapi';
import { authenticate } from '../../auth/middleware';
import { createRouter } from '../../router';
import { signOut } from '../../services/auth-service';
import { clearSessionCookie } from './session-cookie';

export function logoutRoute() {
  return createRouter().openapi(
    createRoute({
      method: 'post',
      path: '/logout',
      tags: ['auth'],
      summary: 'Sign out: end the cookie session',
      middleware: [authenticate] as const,
      responses: {
        204: { description: 'Signed out; the cookie is cleared' },
        400: { description: 'Called with an API key, which has no session' },
        401: { description: 'Not signed in' },
        403: { description: 'Missing X-CSRF-Token' },
      },
    }),
    async (c) => {
      await signOut(c.get('deps').db, c.get('principal'), c.get('meta'));
      clearSessionCookie(c);
      return c.body(null, 204);
    },
  );
}
