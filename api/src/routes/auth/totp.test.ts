import { decryptSecret } from '@keelson/common/codec';
import { users } from '@keelson/db/schema';
import { eq } from 'drizzle-orm';
import { Secret, TOTP } from 'otpauth';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestPlatform, TEST_KEYS, type SignedIn, type TestPlatform } from '../../../../test/platform';
import { AuditPageSchema } from '../audit/schema';
import { MeSchema, SignedInSchema, TotpSetupSchema } from './schema';

const ErrorSchema = z.object({ code: z.string(), message: z.string(), requestId: z.string() });
const PASSWORD = 'correct horse battery';

const codeFor = (secret: string, timestamp = Date.now()) => TOTP.generate({ secret: Secret.fromBase32(secret), timestamp });
/** The next step's code: the current one was used up by enabling two-factor (codes are single use). */
const laterCode = (secret: string) => codeFor(secret, Date.now() + 30_000);

/** Six digits that are valid for no step in the ±1 window. */
function wrongCodeFor(secret: string): string {
  const valid = new Set([-30_000, 0, 30_000].map((d) => codeFor(secret, Date.now() + d)));
  return ['000000', '111111', '222222', '333333'].find((c) => !valid.has(c))!;
}

describe('/api/auth/totp', () => {
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
  });
  afterAll(() => platform.close());

  const post = (path: string, headers: Record<string, string>, body?: unknown) =>
    platform.request(`/api/auth/totp/${path}`, { method: 'POST', headers, body });

  async function expectError(res: Response, status: number, code?: string) {
    expect(res.status).toBe(status);
    const body = ErrorSchema.parse(await res.json());
    if (code) expect(body.code).toBe(code);
    return body;
  }

  async function setup(user: SignedIn): Promise<string> {
    const res = await post('setup', user.headers);
    expect(res.status).toBe(200);
    const body = TotpSetupSchema.strict().parse(await res.json());
    expect(body.otpauthUrl).toMatch(/^otpauth:\/\/totp\/Keelson:/);
    expect(body.otpauthUrl).toContain(`secret=${body.secret}`);
    expect(body.otpauthUrl).toContain(encodeURIComponent(user.email));
    return body.secret;
  }

  async function enable(user: SignedIn): Promise<string> {
    const secret = await setup(user);
    const res = await post('enable', user.headers, { secret, code: codeFor(secret) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ twoFactorEnabled: true });
    return secret;
  }

  /** Password step of a user with TOTP on: the cookie and CSRF token of the half-open session. */
  async function firstStep(email: string) {
    const res = await platform.request('/api/auth/login', { body: { email, password: PASSWORD } });
    expect(res.status).toBe(200);
    const body = SignedInSchema.strict().parse(await res.json());
    expect(body.twoFactorRequired).toBe(true);
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
    return { cookie, headers: { cookie, 'x-csrf-token': body.csrfToken } };
  }

  async function twoFactorEnabled(headers: Record<string, string>): Promise<boolean> {
    const res = await platform.request('/api/auth/me', { headers });
    expect(res.status).toBe(200);
    return MeSchema.parse(await res.json()).twoFactorEnabled;
  }

  async function auditActions(userId: string) {
    const res = await platform.request(`/api/audit?${new URLSearchParams({ actor: `user:${userId}` })}`, { headers: owner.headers });
    expect(res.status).toBe(200);
    return AuditPageSchema.parse(await res.json()).items.map((r) => r.action);
  }

  it('setup → enable → login needs the second step → wrong code 401 → right code completes it', async () => {
    const user = await platform.signIn({ tenantId: tenant.id, role: 'operator' });
    const secret = await enable(user);

    // Stored encrypted, and it decrypts to the same secret.
    const [row] = await platform.db.select({ totpSecret: users.totpSecret }).from(users).where(eq(users.id, user.userId));
    expect(row!.totpSecret).not.toContain(secret);
    expect(decryptSecret(TEST_KEYS, row!.totpSecret!)).toBe(secret);

    expect(await twoFactorEnabled(user.headers)).toBe(true);

    const pending = await firstStep(user.email);
    // The half-open session is refused everywhere else.
    await expectError(await platform.request('/api/auth/me', { headers: pending.headers }), 401);

    const wrong = await expectError(await post('verify', pending.headers, { code: wrongCodeFor(secret) }), 401, 'unauthorized');
    expect(wrong.message).toContain('code');
    await expectError(await platform.request('/api/auth/me', { headers: pending.headers }), 401);

    const ok = await post('verify', pending.headers, { code: laterCode(secret) });
    expect(ok.status).toBe(200);
    expect(SignedInSchema.strict().parse(await ok.json())).toMatchObject({ twoFactorRequired: false, user: { id: user.userId }, role: 'operator' });

    const after = await platform.request('/api/auth/me', { headers: pending.headers });
    expect(after.status).toBe(200);
    expect(MeSchema.parse(await after.json())).toMatchObject({ user: { id: user.userId }, twoFactorEnabled: true });

    // Verifying a verified session again is a conflict, not a second success.
    await expectError(await post('verify', pending.headers, { code: codeFor(secret) }), 409);

    const actions = await auditActions(user.userId);
    expect(actions).toEqual(expect.arrayContaining(['auth.totp.setup', 'auth.totp.enable', 'auth.login', 'auth.totp.verify']));
  });

  it('accepts a code once: the same code cannot complete a second sign-in, nor an older one after a newer', async () => {
    const user = await platform.signIn({ tenantId: tenant.id, role: 'viewer' });
    const secret = await enable(user);
    const code = laterCode(secret);

    const first = await firstStep(user.email);
    expect((await post('verify', first.headers, { code })).status).toBe(200);

    // An attacker who saw the code (shoulder, phishing proxy) replays it within its window.
    const second = await firstStep(user.email);
    const replay = await expectError(await post('verify', second.headers, { code }), 401, 'unauthorized');
    expect(replay.message).toContain('code');
    await expectError(await platform.request('/api/auth/me', { headers: second.headers }), 401);
    // The previous step's code is still inside the drift window, but older than the one used.
    await expectError(await post('verify', second.headers, { code: codeFor(secret) }), 401);
    // Nor can the used code turn two-factor off.
    await expectError(await post('disable', first.headers, { code }), 403, 'forbidden');
  });

  describe('POST /api/auth/totp/verify', () => {
    it('answers 400, 401 and 403', async () => {
      const user = await platform.signIn({ tenantId: tenant.id, role: 'viewer' });
      const secret = await enable(user);
      const pending = await firstStep(user.email);

      await expectError(await post('verify', {}, { code: codeFor(secret) }), 401);
      await expectError(await post('verify', { cookie: 'keelson_session=forged', 'x-csrf-token': 'x' }, { code: codeFor(secret) }), 401);
      await expectError(await post('verify', { cookie: pending.cookie }, { code: codeFor(secret) }), 403, 'forbidden');
      await expectError(await post('verify', { ...pending.headers, 'x-csrf-token': 'wrong' }, { code: codeFor(secret) }), 403);
      await expectError(await post('verify', pending.headers, {}), 400, 'validation_failed');
      await expectError(await post('verify', pending.headers, { code: 123456 }), 400, 'validation_failed');
      await expectError(await post('verify', pending.headers, { code: '12345' }), 400, 'validation_failed');
      await expectError(await post('verify', pending.headers, 'code=1'), 400, 'bad_request');
    });

    it('limits wrong codes per user with 429 and Retry-After', async () => {
      platform.deps.config.loginRateLimit = { max: 2, windowMs: 60_000 };
      const user = await platform.signIn({ tenantId: tenant.id, role: 'viewer' });
      const secret = await enable(user);
      const pending = await firstStep(user.email);
      await expectError(await post('verify', pending.headers, { code: wrongCodeFor(secret) }), 401);
      await expectError(await post('verify', pending.headers, { code: wrongCodeFor(secret) }), 401);

      // A fresh session does not reset the count: the limit is per user.
      const again = await firstStep(user.email);
      const blocked = await post('verify', again.headers, { code: laterCode(secret) });
      await expectError(blocked, 429, 'rate_limited');
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    });
  });

  describe('POST /api/auth/totp/setup', () => {
    it('needs a signed-in user and the CSRF header, and refuses when already on', async () => {
      await expectError(await post('setup', {}), 401);
      const user = await platform.signIn({ tenantId: tenant.id, role: 'viewer' });
      await expectError(await post('setup', { cookie: user.cookie }), 403, 'forbidden');
      const key = await platform.createApiKey({ tenantId: tenant.id, scopes: ['workflow.read'] });
      await expectError(await post('setup', { authorization: `Bearer ${key}` }), 403, 'forbidden');

      await setup(user);
      // Setup alone changes nothing.
      expect(await twoFactorEnabled(user.headers)).toBe(false);
      await enable(user);
      await expectError(await post('setup', user.headers), 409, 'conflict');
    });
  });

  describe('POST /api/auth/totp/enable', () => {
    it('answers 400 for malformed bodies and for a code that does not match, 401, 403 and 409', async () => {
      const user = await platform.signIn({ tenantId: tenant.id, role: 'viewer' });
      const secret = await setup(user);
      await expectError(await post('enable', {}, { secret, code: codeFor(secret) }), 401);
      await expectError(await post('enable', { cookie: user.cookie }, { secret, code: codeFor(secret) }), 403);
      await expectError(await post('enable', user.headers, { secret }), 400, 'validation_failed');
      await expectError(await post('enable', user.headers, { secret: 'short', code: codeFor(secret) }), 400, 'validation_failed');
      await expectError(await post('enable', user.headers, { secret, code: 12 }), 400, 'validation_failed');
      await expectError(await post('enable', user.headers, '{'), 400, 'bad_request');
      const mismatch = await expectError(await post('enable', user.headers, { secret, code: wrongCodeFor(secret) }), 400, 'validation_failed');
      expect(mismatch.message).toContain('code');
      expect(await twoFactorEnabled(user.headers)).toBe(false);

      // Lower case and padding are what some apps show; both are accepted.
      const res = await post('enable', user.headers, { secret: `${secret.toLowerCase()}==`, code: codeFor(secret) });
      expect(res.status).toBe(200);
      const other = await setup(await platform.signIn({ tenantId: tenant.id, role: 'viewer' }));
      await expectError(await post('enable', user.headers, { secret: other, code: codeFor(other) }), 409, 'conflict');
    });
  });

  describe('POST /api/auth/totp/disable', () => {
    it('turns two-factor off with a current code; sign-in is one step again', async () => {
      const user = await platform.signIn({ tenantId: tenant.id, role: 'viewer' });
      const secret = await enable(user);

      await expectError(await post('disable', {}, { code: codeFor(secret) }), 401);
      await expectError(await post('disable', { cookie: user.cookie }, { code: codeFor(secret) }), 403);
      await expectError(await post('disable', user.headers, {}), 400, 'validation_failed');
      await expectError(await post('disable', user.headers, '{'), 400, 'bad_request');
      await expectError(await post('disable', user.headers, { code: wrongCodeFor(secret) }), 403, 'forbidden');

      const res = await post('disable', user.headers, { code: laterCode(secret) });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ twoFactorEnabled: false });
      await expectError(await post('disable', user.headers, { code: codeFor(secret) }), 409);

      const login = await platform.request('/api/auth/login', { body: { email: user.email, password: PASSWORD } });
      expect(SignedInSchema.parse(await login.json()).twoFactorRequired).toBe(false);
      expect(await auditActions(user.userId)).toEqual(expect.arrayContaining(['auth.totp.enable', 'auth.totp.disable']));
    });
  });
});
