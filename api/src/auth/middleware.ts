import { ROLE_PERMISSIONS, type Permission } from '@keelson/common/permissions';
import { getCookie } from 'hono/cookie';
import { createMiddleware } from 'hono/factory';
import { NO_CUSTOMER, type AppEnv, type Principal } from '../context';
import { ForbiddenError, UnauthorizedError } from '../errors';
import { apiKeyCache } from './api-key-cache';
import { verifyApiKey } from './api-keys';
import { forTenant } from '../services/tenant-scope';
import { SESSION_COOKIE, validateSessionToken } from './sessions';
import { safeEqual } from './tokens';

export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Resolves the caller from `Authorization: Bearer kls_…` or the session cookie. Cookie-borne
 * requests that change state must echo the session's CSRF token in `X-CSRF-Token`; `csrf:
 * false` is only for POSTs without side effects (the payload codec).
 */
export const authenticateWith = ({ csrf }: { csrf: boolean }) => createMiddleware<AppEnv>(async (c, next) => {
  const deps = c.get('deps');
  const { db, pool } = deps;
  const authorization = c.req.header('authorization');
  if (authorization) {
    const [scheme, credential] = authorization.split(' ');
    if (scheme?.toLowerCase() !== 'bearer' || !credential) throw new UnauthorizedError('Authorization must be "Bearer <api key>"');
    const cache = apiKeyCache({ db, pool });
    const key = await verifyApiKey(db, credential, (executor, prefix) => cache.lookup(executor, prefix));
    if (!key) throw new UnauthorizedError('invalid, revoked or expired API key');
    c.set('principal', {
      tenantId: key.tenantId,
      actor: `apikey:${key.id}`,
      actorType: 'api_key',
      actorId: key.id,
      userId: null,
      role: null,
      permissions: key.permissions,
      sessionId: null,
      onBehalfOf: key.createdBy,
      // A key never sees more than its creator: a customer user's key sees their customer only.
      customerId: key.creatorRole === 'customer' ? (key.creatorCustomerId ?? NO_CUSTOMER) : null,
    });
    // Payloads this request sends to Temporal are sealed with this organization's data key.
    return forTenant(deps, key.tenantId, next);
  }

  const token = getCookie(c, SESSION_COOKIE);
  if (!token) throw new UnauthorizedError();
  const session = await validateSessionToken(db, token);
  if (!session) throw new UnauthorizedError('session expired or signed out');
  if (!session.twoFactorVerified) throw new UnauthorizedError('two-factor verification required');
  if (csrf && !SAFE_METHODS.has(c.req.method)) {
    const presented = c.req.header(CSRF_HEADER);
    if (!presented || !safeEqual(presented, session.csrfToken)) throw new ForbiddenError(`missing or wrong ${CSRF_HEADER} header`);
  }
  const principal: Principal = {
    tenantId: session.tenantId,
    actor: `user:${session.userId}`,
    actorType: 'user',
    actorId: session.userId,
    userId: session.userId,
    role: session.role,
    permissions: ROLE_PERMISSIONS[session.role],
    sessionId: session.sessionId,
    onBehalfOf: session.userId,
    customerId: session.role === 'customer' ? (session.customerId ?? NO_CUSTOMER) : null,
  };
  c.set('principal', principal);
  return forTenant(deps, principal.tenantId, next);
});

export const authenticate = authenticateWith({ csrf: true });

/** Route guard: 403 naming the missing permission. */
export function requirePermission(...needed: Permission[]) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const { permissions } = c.get('principal');
    const missing = needed.filter((p) => !permissions.has(p));
    if (missing.length) throw new ForbiddenError(`missing permission: ${missing.join(', ')}`);
    return next();
  });
}

/** Route guard: 403 unless the caller holds at least one of `options` (the service checks further). */
export function requireAnyPermission(...options: Permission[]) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const { permissions } = c.get('principal');
    if (!options.some((p) => permissions.has(p))) throw new ForbiddenError(`missing permission: ${options.join(' or ')}`);
    return next();
  });
}

export function hasPermission(principal: Principal, permission: Permission): boolean {
  return principal.permissions.has(permission);
}

/** Route guard for organization-wide views a customer user must not see, whatever they hold. */
export const requireStaff = createMiddleware<AppEnv>(async (c, next) => {
  const { role, customerId } = c.get('principal');
  if (role === 'customer' || customerId) throw new ForbiddenError('customer users see their own customer only');
  return next();
});
