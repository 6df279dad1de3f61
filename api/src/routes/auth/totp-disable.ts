import { createRoute } from '@hono/zod-openapi';
import { authenticate } from '../../auth/middleware';
import { DEFAULT_LOGIN_RATE_LIMIT, type FailureLimiter } from '../../auth/rate-limit';
import { TooManyRequestsError } from '../../errors';
import { createRouter } from '../../router';
import { disableTotp, TotpConfirmationError } from '../../services/auth-service';
import { TotpCodeBodySchema, TwoFactorStatusSchema } from './schema';

/** `limiter` is shared with the sign-in second step: both count wrong codes per user. */
export function totpDisableRoute(limiter: FailureLimiter) {
  return createRouter().openapi(
    createRoute({
      method: 'post',
      path: '/totp/disable',
      tags: ['auth'],
      summary: 'Turn off two-factor; needs a current code',
      middleware: [authenticate] as const,
      request: { body: { required: true, content: { 'application/json': { schema: TotpCodeBodySchema } } } },
      responses: {
        200: { description: 'Two-factor is off', content: { 'application/json': { schema: TwoFactorStatusSchema } } },
        400: { description: 'Malformed body' },
        401: { description: 'Not signed in' },
        403: { description: 'Wrong code, missing X-CSRF-Token, or called with an API key' },
        409: { description: 'Two-factor is not enabled' },
        429: { description: 'Too many wrong codes; see Retry-After' },
      },
    }),
    async (c) => {
      const { code } = c.req.valid('json');
      const { db, keys, config } = c.get('deps');
      const principal = c.get('principal');
      const limit = config.loginRateLimit ?? DEFAULT_LOGIN_RATE_LIMIT;
      const key = `totp|${principal.userId ?? principal.actor}`;
      const retryAfter = await limiter.blockedFor(key, limit);
      if (retryAfter !== null) throw new TooManyRequestsError(retryAfter);

      try {
        await disableTotp(db, keys, principal, c.get('meta'), { code });
      } catch (err) {
        if (err instanceof TotpConfirmationError) await limiter.fail(key, limit);
        throw err;
      }
      await limiter.reset(key);
      return c.json({ twoFactorEnabled: false }, 200);
    },
  );
}
