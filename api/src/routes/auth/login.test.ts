import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../../../test/platform';
import { createApp } from '../../app';
import { createRouter } from '../../router';
import { apiKeysRoutes } from '../api-keys/index';
import { auditRoutes } from '../audit/index';
import { AuditPageSchema } from '../audit/schema';
import { membersRoutes } from '../members/index';
import { authRoutes } from './index';
import { MeSchema, SignedInSchema } from './schema';

const ErrorSchema = z.object({ code: z.string(), message: z.string(), requestId: z.string() });
const StrictSignedIn = SignedInSchema.extend({
  user: SignedInSchema.shape.user.strict(),
  organization: SignedInSchema.shape.organization.strict(),
}).strict();
const StrictMe = MeSchema.strict();
const PASSWORD = 'correct horse battery';

describe('/api/auth sign-in, caller, sign-out', () => {
  let platform: TestPlatform;
  let tenant: { id: string; slug: string };
  let owner: SignedIn;

  beforeAll(async () => {
    platform = await createTestPlatform();
    tenant = await platform.createTenant();
    owner = await platform.signIn({ tenantId: tenant.id, role: 'owner' });
  });
  afterEach(() => {
    platform.deps.config.loginRateLimit = undefined;
    platform.deps.config.cookieSecure = false;
  });
  afterAll(() => platform.close());

  const login = (body: unknown, headers: Record<string, string> = {}) => platform.request('/api/auth/login', { method: 'POST', body, headers });
  const me = (headers: Record<string, string>) => platform.request('/api/auth/me', { headers });

  async function expectError(res: Response, status: number, code?: string) {
    expect(res.status).toBe(status);
    const body = ErrorSchema.parse(await res.json());
    if (code) expect(body.code).toBe(code);
    return body;
  }

  function sessionCookie(res: Response): { pair: string; attributes: string } {
    const header = res.headers.get('set-cookie');
    expect(header).toBeTruthy();
    const [pair, ...attributes] = header!.split(';').map((s) => s.trim());
    return { pair: pair!, attributes: attributes.join('; ') };
  }

  async function auditRows(query: Record<string, string>) {
    const res = await platform.request(`/api/audit?${new URLSearchParams(query)}`, { headers: owner.headers });
    expect(res.status).toBe(200);
    return AuditPageSchema.parse(await res.json()).items;
  }

  describe('POST /api/auth/login', () => {
    it('signs in: HttpOnly SameSite=Lax cookie, user, organization, role and permissions', async () => {
      const user = await platform.createUser({ tenantId: tenant.id, role: 'operator' });
      const res = await login({ email: user.email, password: PASSWORD });
      expect(res.status).toBe(200);
      const body = StrictSignedIn.parse(await res.json());
      expect(body).toMatchObject({
        user: { id: user.id, email: user.email },
        organization: { id: tenant.id, slug: tenant.slug },
        role: 'operator',
        twoFactorRequired: false,
      });
      expect(body.permissions).toContain('container.manage');
      expect(body.permissions).not.toContain('member.manage');

      const cookie = sessionCookie(res);
      expect(cookie.pair).toMatch(/^keelson_session=[a-z0-9]{20,}$/);
      expect(cookie.attributes).toMatch(/HttpOnly/i);
      expect(cookie.attributes).toMatch(/SameSite=Lax/i);
      expect(cookie.attributes).toMatch(/Path=\//);
      expect(cookie.attributes).not.toMatch(/Secure/i);

      const rows = await auditRows({ action: 'auth.login', actor: `user:${user.id}` });
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ resourceId: user.id, details: { twoFactorRequired: false } });
    });

    it('marks the cookie Secure when configured, and matches email case-insensitively', async () => {
      platform.deps.config.cookieSecure = true;
      const user = await platform.createUser({ tenantId: tenant.id, role: 'viewer' });
      const res = await login({ email: user.email.toUpperCase(), password: PASSWORD });
      expect(res.status).toBe(200);
      expect(sessionCookie(res).attributes).toMatch(/Secure/);
    });

    it('picks the organization by slug, defaulting to the first membership', async () => {
      const other = await platform.createTenant();
      const user = await platform.createUser({ tenantId: tenant.id, role: 'viewer' });
      const joined = await platform.request('/api/members', {
        method: 'POST',
        headers: (await platform.signIn({ tenantId: other.id, role: 'owner' })).headers,
        body: { email: user.email, name: 'x', role: 'admin', password: 'ignored-password' },
      });
      expect(joined.status).toBe(202);
      const invitation = (await joined.json()) as { id: string };

      const first = StrictSignedIn.parse(await (await login({ email: user.email, password: PASSWORD })).json());
      expect(first).toMatchObject({ organization: { id: tenant.id }, role: 'viewer' });
      // Not a member of the other organization until the invitation is accepted.
      await expectError(await login({ email: user.email, password: PASSWORD, organization: other.slug }), 403, 'invitation_pending');
      const chosen = StrictSignedIn.parse(await (await login({ email: user.email, password: PASSWORD, organization: other.slug, acceptInvitations: [invitation.id] })).json());
      expect(chosen).toMatchObject({ organization: { id: other.id, slug: other.slug }, role: 'admin' });

      const stranger = await platform.createTenant();
      const err = await expectError(await login({ email: user.email, password: PASSWORD, organization: stranger.slug }), 403);
      expect(err.message).toContain(stranger.slug);
    });

    it('answers a wrong password and an unknown email with the same 401', async () => {
      const user = await platform.createUser({ tenantId: tenant.id, role: 'viewer' });
      const wrong = await expectError(await login({ email: user.email, password: 'wrong password' }), 401, 'unauthorized');
      const unknown = await expectError(await login({ email: 'nobody@example.test', password: 'wrong password' }), 401, 'unauthorized');
      expect(wrong.message).toBe(unknown.message);
      expect(wrong.message).not.toMatch(/unknown|not found|no such/i);
    });

    it('rejects malformed bodies with 400', async () => {
      await expectError(await login({ email: owner.email }), 400, 'validation_failed');
      await expectError(await login({ email: 5, password: PASSWORD }), 400, 'validation_failed');
      await expectError(await login({ email: owner.email, password: PASSWORD, organization: '' }), 400, 'validation_failed');
      await expectError(await login('{"email": '), 400, 'bad_request');
    });

    it('limits failed attempts per ip and email with 429 and Retry-After', async () => {
      platform.deps.config.loginRateLimit = { max: 3, windowMs: 60_000 };
      const user = await platform.createUser({ tenantId: tenant.id, role: 'viewer' });
      for (let i = 0; i < 3; i++) await expectError(await login({ email: user.email, password: `guess ${i}` }), 401);

      // Blocked now, even with the right password and a differently cased email.
      const blocked = await login({ email: user.email.toUpperCase(), password: PASSWORD });
      await expectError(blocked, 429, 'rate_limited');
      const retryAfter = Number(blocked.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);

      // Other accounts are not affected.
      const other = await platform.createUser({ tenantId: tenant.id, role: 'viewer' });
      expect((await login({ email: other.email, password: PASSWORD })).status).toBe(200);
    });

    it('shares the limit between API processes: failures on one block sign-in on another', async () => {
      platform.deps.config.loginRateLimit = { max: 2, windowMs: 60_000 };
      // Two apps over the same database, as two API processes behind a load balancer.
      const first = createApp(platform.deps);
      const second = createApp(platform.deps);
      const user = await platform.createUser({ tenantId: tenant.id, role: 'viewer' });
      const attempt = (app: ReturnType<typeof createApp>, password: string) =>
        app.request('/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: user.email, password }) });
      expect((await attempt(first, 'guess 1')).status).toBe(401);
      expect((await attempt(second, 'guess 2')).status).toBe(401);
      expect((await attempt(first, PASSWORD)).status).toBe(429);
      expect((await attempt(second, PASSWORD)).status).toBe(429);
      // Nothing in the table names the address or the account.
      const stored = await platform.pool.query<{ key: string }>('select key from rate_limits');
      expect(stored.rows.length).toBeGreaterThan(0);
      expect(stored.rows.map((r) => r.key).join()).not.toContain(user.email);
    });

    it('lets the window expire', async () => {
      platform.deps.config.loginRateLimit = { max: 1, windowMs: 300 };
      const user = await platform.createUser({ tenantId: tenant.id, role: 'viewer' });
      await expectError(await login({ email: user.email, password: 'nope' }), 401);
      await expectError(await login({ email: user.email, password: PASSWORD }), 429);
      await new Promise((r) => setTimeout(r, 350));
      expect((await login({ email: user.email, password: PASSWORD })).status).toBe(200);
    });
  });

  describe('GET /api/auth/me and POST /api/auth/logout', () => {
    it('login → me → logout → me is 401', async () => {
      const user = await platform.createUser({ tenantId: tenant.id, role: 'admin' });
      const res = await login({ email: user.email, password: PASSWORD });
      const signedIn = StrictSignedIn.parse(await res.json());
      const cookie = sessionCookie(res).pair;

      const who = await me({ cookie });
      expect(who.status).toBe(200);
      const body = StrictMe.parse(await who.json());
      expect(body).toMatchObject({
        user: { id: user.id, email: user.email },
        apiKey: null,
        organization: { id: tenant.id, slug: tenant.slug },
        role: 'admin',
        csrfToken: signedIn.csrfToken,
        twoFactorEnabled: false,
      });
      expect(body.permissions).toContain('member.manage');

      await expectError(await platform.request('/api/auth/logout', { method: 'POST', headers: { cookie } }), 403, 'forbidden');
      const out = await platform.request('/api/auth/logout', { method: 'POST', headers: { cookie, 'x-csrf-token': signedIn.csrfToken } });
      expect(out.status).toBe(204);
      expect(out.headers.get('set-cookie')).toMatch(/^keelson_session=;.*Max-Age=0/);
      await expectError(await me({ cookie }), 401, 'unauthorized');

      const rows = await auditRows({ action: 'auth.logout', actor: user.id });
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ actorId: user.id, resourceId: user.id });
    });

    it('describes an API key caller without a user or CSRF token', async () => {
      const key = await platform.createApiKey({ tenantId: tenant.id, scopes: ['workflow.read', 'node.read'] });
      const res = await me({ authorization: `Bearer ${key}` });
      expect(res.status).toBe(200);
      const body = StrictMe.parse(await res.json());
      expect(body).toMatchObject({ user: null, apiKey: { name: 'test' }, role: null, csrfToken: null, twoFactorEnabled: false });
      expect(body.permissions).toEqual(['node.read', 'workflow.read']);

      // Logging out an API key makes no sense.
      await expectError(await platform.request('/api/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${key}` } }), 400);
    });

    it('needs credentials', async () => {
      await expectError(await me({}), 401);
      await expectError(await me({ cookie: 'keelson_session=forged' }), 401);
      await expectError(await platform.request('/api/auth/logout', { method: 'POST' }), 401);
    });
  });

  it('describes its routes in OpenAPI', () => {
    // Built from these four sub-apps alone, so another resource's schema cannot break this test.
    const app = createRouter()
      .route('/api/auth', authRoutes(platform.db))
      .route('/api/api-keys', apiKeysRoutes())
      .route('/api/members', membersRoutes())
      .route('/api/audit', auditRoutes());
    const { paths } = app.getOpenAPI31Document({ openapi: '3.1.0', info: { title: 'test', version: '0' } });
    expect(Object.keys(paths ?? {}).sort()).toEqual([
      '/api/api-keys',
      '/api/api-keys/{id}',
      '/api/audit',
      '/api/auth/login',
      '/api/auth/logout',
      '/api/auth/me',
      '/api/auth/totp/disable',
      '/api/auth/totp/enable',
      '/api/auth/totp/setup',
      '/api/auth/totp/verify',
      '/api/members',
      '/api/members/invitations',
      '/api/members/invitations/{id}',
      '/api/members/{userId}',
    ]);
  });
});
