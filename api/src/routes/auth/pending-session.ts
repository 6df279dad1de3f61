import { getCookie } from 'hono/cookie';
import { createMiddleware } from 'hono/factory';
import { CSRF_HEADER } from '../../auth/middleware';
import { SESSION_COOKIE, validateSessionToken, type SessionContext } from '../../auth/sessions';
import { safeEqual } from '../../auth/tokens';
import type { AppEnv } from '../../context';
import { ForbiddenError, UnauthorizedError } from '../../errors';

/**
 * Like `authenticate`, but also admits a session that has not passed its second factor yet (the
 * only thing such a session may do is pass it). Cookie-only, with the same CSRF check.
 */
export const pendingSession = createMiddleware<AppEnv & { Variables: { session: SessionContext } }>(async (c, next) => {
  const token = getCookie(c, SESSION_COOKIE);
  if (!token) throw new UnauthorizedError('sign in first: POST /api/auth/login');
  const session = await validateSessionToken(c.get('deps').db, token);
  if (!session) throw new UnauthorizedError('session expired or signed out');
  const presented = c.req.header(CSRF_HEADER);
  if (!presented || !safeEqual(presented, session.csrfToken)) throw new ForbiddenError(`missing or wrong ${CSRF_HEADER} header`);
  c.set('session', session);
  return next();
});
