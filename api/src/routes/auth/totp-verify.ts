import { createRoute } from '@hono/zod-openapi';
import { ROLE_PERMISSIONS } from '@keelson/common/permissions';
import { DEFAULT_LOGIN_RATE_LIMIT, type FailureLimiter } from '../../auth/rate-limit';
import { TooManyRequestsError } from '../../errors';
import { createRouter } from '../../router';
import { completeSecondFactor, InvalidTotpCodeError } from '../../services/auth-service';
import { pendingSession } from './pending-session';
import { SignedInSchema, TotpCodeBodySchema } from './schema';

/** `limiter` counts wrong codes per user, so six digits cannot be guessed online. */
export function totpVerifyRoute(limiter: FailureLimiter) {
  return createRouter().openapi(
    createRoute({
      method: 'post',
      path: '/totp/verify',
      tags: ['auth'],
      summary: 'Second step of sign-in: a code from the authenticator app',
      middleware: [pendingSession] as const,
      request: { body: { required: true, content: { 'application/json': { schema: TotpCodeBodySchema } } } },
      responses: {
        200: { description: 'Signed in', content: { 'application/json': { schema: SignedInSchema } } },
        400: { description: 'Malformed body' },
        401: { description: 'No session, or a wrong code' },
        403: { description: 'Missing X-CSRF-Token' },
        409: { description: 'The session is already verified' },
        429: { description: 'Too many wrong codes; see Retry-After' },
      },
    }),
    async (c) => {
      const { code } = c.req.valid('json');
      const { db, keys, config } = c.get('deps');
      const session = c.get('session');
      const limit = config.loginRateLimit ?? DEFAULT_LOGIN_RATE_LIMIT;
      const key = `totp|${session.userId}`;
      const retryAfter = await limiter.blockedFor(key, limit);
      if (retryAfter !== null) throw new TooManyRequestsError(retryAfter);

      let signedIn: Awaited<ReturnType<typeof completeSecondFactor>>;
      try {
        signedIn = await completeSecondFactor(db, keys, session, code, c.get('meta'));
      } catch (err) {
        if (err instanceof InvalidTotpCodeError) await limiter.fail(key, limit);
        throw err;
      }
      await limiter.reset(key);
      return c.json(SignedInSchema.parse({ ...signedIn, permissions: [...ROLE_PERMISSIONS[signedIn.role]] }), 200);
    },
  );
}
