import { createRoute } from '@hono/zod-openapi';
import { ROLE_PERMISSIONS } from '@keelson/common/permissions';
import { DEFAULT_LOGIN_RATE_LIMIT, type FailureLimiter } from '../../auth/rate-limit';
import { TooManyRequestsError } from '../../errors';
import { createRouter } from '../../router';
import { InvalidCredentialsError, signIn } from '../../services/auth-service';
import { LoginBodySchema, SignedInSchema } from './schema';
import { setSessionCookie } from './session-cookie';

/** `limiter` counts failed logins per (ip, email); it belongs to the app, not to this module. */
export function loginRoute(limiter: FailureLimiter) {
  return createRouter().openapi(
    createRoute({
      method: 'post',
      path: '/login',
      tags: ['auth'],
      summary: 'Sign in with email and password',
      description:
        'Sets the HttpOnly `keelson_session` cookie. With two-factor on, the session is usable only after POST /api/auth/totp/verify.',
      request: { body: { required: true, content: { 'application/json': { schema: LoginBodySchema } } } },
      responses: {
        200: { description: 'Signed in (or waiting for the second factor)', content: { 'application/json': { schema: SignedInSchema } } },
        400: { description: 'Malformed body' },
        401: { description: 'Wrong email or password' },
        403: { description: 'Not a member of the requested organization' },
        429: { description: 'Too many failed attempts; see Retry-After' },
      },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const { db, config } = c.get('deps');
      const meta = c.get('meta');
      const limit = config.loginRateLimit ?? DEFAULT_LOGIN_RATE_LIMIT;
      const key = `login|${meta.ip ?? 'unknown'}|${input.email.toLowerCase()}`;
      const retryAfter = await limiter.blockedFor(key, limit);
      if (retryAfter !== null) throw new TooManyRequestsError(retryAfter);

      let signedIn: Awaited<ReturnType<typeof signIn>>;
      try {
        signedIn = await signIn(db, input, meta);
      } catch (err) {
        if (err instanceof InvalidCredentialsError) await limiter.fail(key, limit);
        throw err;
      }
      await limiter.reset(key);
      setSessionCookie(c, signedIn.token, signedIn.expiresAt);
      return c.json(SignedInSchema.parse({ ...signedIn, permissions: [...ROLE_PERMISSIONS[signedIn.role]] }), 200);
    },
  );
}
