import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memberships } from '@keelson/db/schema';
import { z } from 'zod';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../../../test/platform';
import { AuditPageSchema } from '../audit/schema';
import { ApiKeySchema, CreatedApiKeySchema } from './schema';

const ErrorSchema = z.object({ code: z.string(), message: z.string(), requestId: z.string() });
const ListSchema = z.object({ items: z.array(ApiKeySchema.strict()) }).strict();
const CreatedSchema = CreatedApiKeySchema.extend({ apiKey: ApiKeySchema.strict() }).strict();

describe('/api/api-keys', () => {
  let platform: TestPlatform;
  let tenantA: { id: string; slug: string };
  let tenantB: { id: string; slug: string };
  let adminA: SignedIn;
  let viewerA: SignedIn;
  let adminB: SignedIn;

  beforeAll(async () => {
    platform = await createTestPlatform();
    tenantA = await platform.createTenant();
    tenantB = await platform.createTenant();
    adminA = await platform.signIn({ tenantId: tenantA.id, role: 'admin' });
    viewerA = await platform.signIn({ tenantId: tenantA.id, role: 'viewer' });
    adminB = await platform.signIn({ tenantId: tenantB.id, role: 'admin' });
  });
  afterAll(() => platform.close());

  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

  async function create(headers: Record<string, string>, body: unknown) {
    return platform.request('/api/api-keys', { method: 'POST', headers, body });
  }

  async function createOk(headers: Record<string, string>, body: Record<string, unknown>) {
    const res = await create(headers, body);
    expect(res.status).toBe(201);
    return CreatedSchema.parse(await res.json());
  }

  async function expectError(res: Response, status: number, code?: string) {
    expect(res.status).toBe(status);
    const body = ErrorSchema.parse(await res.json());
    if (code) expect(body.code).toBe(code);
    return body;
  }

  async function auditRows(headers: Record<string, string>, query: Record<string, string>) {
    const res = await platform.request(`/api/audit?${new URLSearchParams(query)}`, { headers });
    expect(res.status).toBe(200);
    return AuditPageSchema.parse(await res.json()).items;
  }

  describe('POST /api/api-keys', () => {
    it('creates a key, shows it once, and the key works as a Bearer token', async () => {
      const created = await createOk(adminA.headers, { name: 'ci', scopes: ['apikey.read', 'workflow.read'] });
      expect(created.key).toMatch(/^kls_[a-z0-9]{10}_[a-z0-9]{32}$/);
      expect(created.key.startsWith(`kls_${created.apiKey.prefix}_`)).toBe(true);
      expect(created.apiKey).toMatchObject({ name: 'ci', scopes: ['apikey.read', 'workflow.read'], expiresAt: null, revokedAt: null, lastUsedAt: null });

      const list = await platform.request('/api/api-keys', { headers: bearer(created.key) });
      expect(list.status).toBe(200);
      const text = await list.text();
      const secret = created.key.split('_')[2]!;
      expect(text).not.toContain(secret);
      const { items } = ListSchema.parse(JSON.parse(text));
      const listed = items.find((k) => k.id === created.apiKey.id);
      expect(listed).toBeDefined();
      expect(listed!.lastUsedAt).not.toBeNull();

      const rows = await auditRows(adminA.headers, { action: 'apikey.create', resourceId: created.apiKey.id });
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ actorId: adminA.userId, details: { name: 'ci', scopes: ['apikey.read', 'workflow.read'] } });
      expect(JSON.stringify(rows[0])).not.toContain(secret);
    });

    it('sets expiry from expiresInDays or expiresAt', async () => {
      const inDays = await createOk(adminA.headers, { name: 'week', scopes: ['node.read'], expiresInDays: 7 });
      const days = (Date.parse(inDays.apiKey.expiresAt!) - Date.now()) / 86_400_000;
      expect(days).toBeGreaterThan(6.99);
      expect(days).toBeLessThanOrEqual(7);

      const at = new Date(Date.now() + 3_600_000);
      const explicit = await createOk(adminA.headers, { name: 'hour', scopes: ['node.read'], expiresAt: at.toISOString() });
      expect(Date.parse(explicit.apiKey.expiresAt!)).toBe(at.getTime());
    });

    it('rejects malformed bodies with 400', async () => {
      await expectError(await create(adminA.headers, { scopes: ['node.read'] }), 400, 'validation_failed');
      await expectError(await create(adminA.headers, { name: 'x', scopes: 'node.read' }), 400, 'validation_failed');
      await expectError(await create(adminA.headers, { name: 'x', scopes: [] }), 400, 'validation_failed');
      await expectError(await create(adminA.headers, { name: 'x', scopes: ['node.destroy'] }), 400, 'validation_failed');
      await expectError(await create(adminA.headers, { name: 'x', scopes: ['node.read'], expiresInDays: 0 }), 400, 'validation_failed');
      const past = new Date(Date.now() - 60_000).toISOString();
      const pastErr = await expectError(await create(adminA.headers, { name: 'x', scopes: ['node.read'], expiresAt: past }), 400);
      expect(pastErr.message).toContain('expiresAt');
      await expectError(
        await create(adminA.headers, { name: 'x', scopes: ['node.read'], expiresAt: new Date(Date.now() + 86_400_000).toISOString(), expiresInDays: 1 }),
        400,
      );
      await expectError(await create(adminA.headers, '{"name": "x", '), 400, 'bad_request');
    });

    it('needs credentials, the permission, and the CSRF header', async () => {
      await expectError(await platform.request('/api/api-keys', { method: 'POST', body: { name: 'x', scopes: ['node.read'] } }), 401, 'unauthorized');
      await expectError(await create(viewerA.headers, { name: 'x', scopes: ['node.read'] }), 403, 'forbidden');
      await expectError(await create({ cookie: adminA.cookie }, { name: 'x', scopes: ['node.read'] }), 403, 'forbidden');
    });

    it('refuses scopes beyond the creator’s own, naming them', async () => {
      const manager = await platform.createApiKey({ tenantId: tenantA.id, scopes: ['apikey.manage', 'apikey.read', 'node.read'] });
      const err = await expectError(await create(bearer(manager), { name: 'wider', scopes: ['node.read', 'node.manage', 'container.exec'] }), 403);
      expect(err.message).toContain('node.manage');
      expect(err.message).toContain('container.exec');
      expect(err.message).not.toContain('node.read,');

      const narrower = await createOk(bearer(manager), { name: 'narrower', scopes: ['node.read'] });
      const rows = await auditRows(adminA.headers, { action: 'apikey.create', resourceId: narrower.apiKey.id });
      expect(rows[0]).toMatchObject({ actorId: expect.any(String) });
      expect(rows[0]!.actorId).not.toBe(adminA.userId);
    });
  });

  describe('GET /api/api-keys', () => {
    it('lists keys without secrets', async () => {
      await createOk(adminA.headers, { name: 'listed', scopes: ['node.read'] });
      const res = await platform.request('/api/api-keys', { headers: adminA.headers });
      expect(res.status).toBe(200);
      const { items } = ListSchema.parse(await res.json());
      expect(items.map((k) => k.name)).toContain('listed');
    });

    it('needs credentials and apikey.read', async () => {
      await expectError(await platform.request('/api/api-keys'), 401);
      await expectError(await platform.request('/api/api-keys', { headers: viewerA.headers }), 403);
      const narrow = await platform.createApiKey({ tenantId: tenantA.id, scopes: ['workflow.read'] });
      await expectError(await platform.request('/api/api-keys', { headers: bearer(narrow) }), 403);
    });

    it('refuses expired and unknown keys', async () => {
      const expired = await platform.createApiKey({ tenantId: tenantA.id, scopes: ['apikey.read'], expiresAt: new Date(Date.now() - 1000) });
      await expectError(await platform.request('/api/api-keys', { headers: bearer(expired) }), 401);
      await expectError(await platform.request('/api/api-keys', { headers: bearer(`kls_aaaaaaaaaa_${'b'.repeat(32)}`) }), 401);
    });
  });

  describe('DELETE /api/api-keys/{id}', () => {
    it('revokes: the key stops working at once, and revoking again is a no-op', async () => {
      const created = await createOk(adminA.headers, { name: 'doomed', scopes: ['apikey.read'] });
      expect((await platform.request('/api/api-keys', { headers: bearer(created.key) })).status).toBe(200);

      const res = await platform.request(`/api/api-keys/${created.apiKey.id}`, { method: 'DELETE', headers: adminA.headers });
      expect(res.status).toBe(204);
      expect(await res.text()).toBe('');
      await expectError(await platform.request('/api/api-keys', { headers: bearer(created.key) }), 401);

      const { items } = ListSchema.parse(await (await platform.request('/api/api-keys', { headers: adminA.headers })).json());
      expect(items.find((k) => k.id === created.apiKey.id)!.revokedAt).not.toBeNull();

      const again = await platform.request(`/api/api-keys/${created.apiKey.id}`, { method: 'DELETE', headers: adminA.headers });
      expect(again.status).toBe(204);
      const rows = await auditRows(adminA.headers, { action: 'apikey.revoke', resourceId: created.apiKey.id });
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ actorId: adminA.userId, details: { name: 'doomed', prefix: created.apiKey.prefix } });
    });

    it('answers 400, 401, 403 and 404', async () => {
      const created = await createOk(adminA.headers, { name: 'guarded', scopes: ['node.read'] });
      const path = `/api/api-keys/${created.apiKey.id}`;
      await expectError(await platform.request(path, { method: 'DELETE' }), 401);
      await expectError(await platform.request(path, { method: 'DELETE', headers: viewerA.headers }), 403);
      await expectError(await platform.request(path, { method: 'DELETE', headers: { cookie: adminA.cookie } }), 403);
      await expectError(await platform.request('/api/api-keys/not-a-uuid', { method: 'DELETE', headers: adminA.headers }), 400);
      await expectError(
        await platform.request('/api/api-keys/00000000-0000-4000-8000-000000000000', { method: 'DELETE', headers: adminA.headers }),
        404,
        'not_found',
      );
    });
  });

  describe("a key follows its creator's rights", () => {
    it('narrows when the creator is demoted, dies when they are removed, and stays dead if they return', async () => {
      const owner = await platform.signIn({ tenantId: tenantA.id, role: 'owner' });
      const admin = await platform.signIn({ tenantId: tenantA.id, role: 'admin' });
      const { key, apiKey } = await createOk(admin.headers, { name: 'automation', scopes: ['member.read', 'blueprint.manage', 'node.read'] });
      const members = () => platform.request('/api/members', { headers: bearer(key) });
      const blueprints = (name: string) => platform.request('/api/blueprints', { method: 'POST', headers: bearer(key), body: { name, image: 'keelson/busybox:latest' } });

      expect((await members()).status).toBe(200);
      expect((await blueprints('while-admin')).status).toBe(201);

      // Demoted to operator (no member.read), then to viewer (no blueprint.manage): the key keeps
      // only what its creator may do, from the very next request.
      const demote = async (role: string) =>
        expect((await platform.request(`/api/members/${admin.userId}`, { method: 'PATCH', headers: owner.headers, body: { role } })).status).toBe(200);
      await demote('operator');
      await expectError(await members(), 403, 'forbidden');
      expect((await blueprints('while-operator')).status).toBe(201);
      await demote('viewer');
      await expectError(await blueprints('while-viewer'), 403, 'forbidden');
      expect((await platform.request('/api/nodes', { headers: bearer(key) })).status).toBe(200);
      const me = (await (await platform.request('/api/auth/me', { headers: bearer(key) })).json()) as { permissions: string[] };
      expect(me.permissions).toEqual(['member.read', 'node.read']);

      // Removed: every key they made is revoked, and says so.
      expect((await platform.request(`/api/members/${admin.userId}`, { method: 'DELETE', headers: owner.headers })).status).toBe(204);
      await expectError(await platform.request('/api/nodes', { headers: bearer(key) }), 401, 'unauthorized');
      const listed = ListSchema.parse(await (await platform.request('/api/api-keys', { headers: owner.headers })).json()).items.find((k) => k.id === apiKey.id);
      expect(listed?.revokedAt).not.toBeNull();
      const removal = await auditRows(owner.headers, { action: 'member.remove', resourceId: admin.userId });
      expect(removal[0]?.details).toMatchObject({ revokedKeys: 1 });

      // Added back as an admin: the old key does not come back to life.
      await platform.db.insert(memberships).values({ tenantId: tenantA.id, userId: admin.userId, role: 'admin' });
      await expectError(await platform.request('/api/nodes', { headers: bearer(key) }), 401, 'unauthorized');
    });

    it('made by another key, it belongs to the person behind that key', async () => {
      const admin = await platform.signIn({ tenantId: tenantA.id, role: 'admin' });
      const owner = await platform.signIn({ tenantId: tenantA.id, role: 'owner' });
      const parent = await createOk(admin.headers, { name: 'parent', scopes: ['apikey.manage', 'node.read'] });
      const child = await createOk(bearer(parent.key), { name: 'child', scopes: ['node.read'] });
      expect((await platform.request('/api/nodes', { headers: bearer(child.key) })).status).toBe(200);
      expect((await platform.request(`/api/members/${admin.userId}`, { method: 'DELETE', headers: owner.headers })).status).toBe(204);
      await expectError(await platform.request('/api/nodes', { headers: bearer(child.key) }), 401);
      await expectError(await platform.request('/api/nodes', { headers: bearer(parent.key) }), 401);
    });
  });

  describe('tenant isolation', () => {
    it('org B can neither list nor revoke org A’s keys', async () => {
      const created = await createOk(adminA.headers, { name: 'a-only', scopes: ['apikey.read'] });

      const { items } = ListSchema.parse(await (await platform.request('/api/api-keys', { headers: adminB.headers })).json());
      expect(items.map((k) => k.id)).not.toContain(created.apiKey.id);

      await expectError(await platform.request(`/api/api-keys/${created.apiKey.id}`, { method: 'DELETE', headers: adminB.headers }), 404);
      const bKey = await platform.createApiKey({ tenantId: tenantB.id, scopes: ['apikey.manage', 'apikey.read'] });
      await expectError(await platform.request(`/api/api-keys/${created.apiKey.id}`, { method: 'DELETE', headers: bearer(bKey) }), 404);

      // Still alive, and A's key sees only A's keys.
      const aList = await platform.request('/api/api-keys', { headers: bearer(created.key) });
      expect(aList.status).toBe(200);
      const aItems = ListSchema.parse(await aList.json()).items;
      expect(aItems.map((k) => k.id)).toContain(created.apiKey.id);
      const bItems = ListSchema.parse(await (await platform.request('/api/api-keys', { headers: bearer(bKey) })).json()).items;
      expect(bItems.map((k) => k.id).filter((id) => aItems.some((a) => a.id === id))).toEqual([]);
    });
  });
});
