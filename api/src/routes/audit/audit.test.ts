import { auditLog } from '@keelson/db/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../../../test/platform';
import { CreatedApiKeySchema } from '../api-keys/schema';
import { AuditEntrySchema, AuditPageSchema } from './schema';

const ErrorSchema = z.object({ code: z.string(), message: z.string(), requestId: z.string() });
const StrictPage = AuditPageSchema.extend({ items: z.array(AuditEntrySchema.strict()) }).strict();
type Page = z.infer<typeof StrictPage>;

describe('GET /api/audit', () => {
  let platform: TestPlatform;
  let tenantA: { id: string; slug: string };
  let tenantB: { id: string; slug: string };
  let adminA: SignedIn;
  let adminB: SignedIn;
  const base = Date.parse('2030-01-01T00:00:00Z');
  const at = (minutes: number) => new Date(base + minutes * 60_000);

  beforeAll(async () => {
    platform = await createTestPlatform();
    tenantA = await platform.createTenant();
    tenantB = await platform.createTenant();
    adminA = await platform.signIn({ tenantId: tenantA.id, role: 'admin' });
    adminB = await platform.signIn({ tenantId: tenantB.id, role: 'admin' });
    // Rows far in the future, so every filter below can be pinned to them with `from`.
    await platform.db.insert(auditLog).values([
      { tenantId: tenantA.id, actorType: 'user', actorId: 'u-1', action: 'node.create', resourceType: 'node', resourceId: 'n-1', createdAt: at(0) },
      { tenantId: tenantA.id, actorType: 'user', actorId: 'u-1', action: 'node.update', resourceType: 'node', resourceId: 'n-1', createdAt: at(1) },
      { tenantId: tenantA.id, actorType: 'api_key', actorId: 'k-1', action: 'node.create', resourceType: 'node', resourceId: 'n-2', createdAt: at(2) },
      { tenantId: tenantA.id, actorType: 'user', actorId: 'u-2', action: 'member.add', resourceType: 'member', resourceId: 'u-3', createdAt: at(3), details: { role: 'viewer' } },
      { tenantId: tenantA.id, actorType: 'system', actorId: null, action: 'billing.run', resourceType: 'invoice', resourceId: null, createdAt: at(4) },
      { tenantId: tenantB.id, actorType: 'user', actorId: 'u-9', action: 'node.create', resourceType: 'node', resourceId: 'n-9', createdAt: at(0) },
    ]);
  });
  afterAll(() => platform.close());

  async function get(query: Record<string, string>, headers: Record<string, string> = adminA.headers): Promise<Page> {
    const res = await platform.request(`/api/audit?${new URLSearchParams(query)}`, { headers });
    expect(res.status).toBe(200);
    return StrictPage.parse(await res.json());
  }
  const from = at(0).toISOString();

  async function expectError(res: Response, status: number, code?: string) {
    expect(res.status).toBe(status);
    const body = ErrorSchema.parse(await res.json());
    if (code) expect(body.code).toBe(code);
    return body;
  }

  it('lists the tenant’s entries newest first', async () => {
    const page = await get({ from });
    expect(page.items.map((i) => i.action)).toEqual(['billing.run', 'member.add', 'node.create', 'node.update', 'node.create']);
    expect(page.items[1]).toMatchObject({ actorType: 'user', actorId: 'u-2', resourceType: 'member', resourceId: 'u-3', details: { role: 'viewer' } });
    expect(page.items[1]!.createdAt).toBe(at(3).toISOString());
    expect(page.nextCursor).toBeNull();
  });

  it('filters by actor, action, resource and time', async () => {
    const ids = (p: Page) => p.items.map((i) => i.resourceId);
    expect(ids(await get({ from, actor: 'u-1' }))).toEqual(['n-1', 'n-1']);
    expect(ids(await get({ from, actor: 'user:u-1' }))).toEqual(['n-1', 'n-1']);
    expect(ids(await get({ from, actor: 'apikey:k-1' }))).toEqual(['n-2']);
    expect(ids(await get({ from, actor: 'user:k-1' }))).toEqual([]);
    expect(ids(await get({ from, action: 'node.create' }))).toEqual(['n-2', 'n-1']);
    expect(ids(await get({ from, resourceType: 'member' }))).toEqual(['u-3']);
    expect(ids(await get({ from, resourceType: 'node', resourceId: 'n-1' }))).toEqual(['n-1', 'n-1']);
    expect((await get({ from: at(1).toISOString(), to: at(3).toISOString() })).items.map((i) => i.action)).toEqual(['node.create', 'node.update']);
  });

  it('pages by cursor without gaps or repeats', async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Page = await get({ from, limit: '2', ...(cursor ? { cursor } : {}) });
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(5);
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
    expect(new Set(seen).size).toBe(5);
  });

  it('records real mutations: creating an API key shows up here', async () => {
    const created = await platform.request('/api/api-keys', { method: 'POST', headers: adminA.headers, body: { name: 'audited', scopes: ['node.read'] } });
    expect(created.status).toBe(201);
    const { apiKey } = CreatedApiKeySchema.parse(await created.json());
    const page = await get({ action: 'apikey.create', resourceId: apiKey.id });
    expect(page.items).toHaveLength(1);
    expect(page.items[0]).toMatchObject({ actorType: 'user', actorId: adminA.userId, resourceType: 'api_key', userAgent: null });
  });

  it('rejects malformed filters with 400', async () => {
    const queries: Array<Record<string, string>> = [
      { limit: '0' },
      { limit: '201' },
      { limit: 'many' },
      { cursor: 'abc' },
      { from: 'yesterday' },
      { from: at(2).toISOString(), to: at(1).toISOString() },
    ];
    for (const query of queries) {
      const res = await platform.request(`/api/audit?${new URLSearchParams(query)}`, { headers: adminA.headers });
      await expectError(res, 400, 'validation_failed');
    }
    expect((await get({ from, limit: '200' })).items).toHaveLength(5);
  });

  it('needs credentials and audit.read', async () => {
    await expectError(await platform.request('/api/audit'), 401, 'unauthorized');
    for (const role of ['viewer', 'operator'] as const) {
      const user = await platform.signIn({ tenantId: tenantA.id, role });
      await expectError(await platform.request('/api/audit', { headers: user.headers }), 403, 'forbidden');
    }
    const key = await platform.createApiKey({ tenantId: tenantA.id, scopes: ['node.read'] });
    await expectError(await platform.request('/api/audit', { headers: { authorization: `Bearer ${key}` } }), 403);
    const reader = await platform.createApiKey({ tenantId: tenantA.id, scopes: ['audit.read'] });
    expect((await platform.request('/api/audit', { headers: { authorization: `Bearer ${reader}` } })).status).toBe(200);
  });

  it('never shows another tenant’s entries', async () => {
    const b = await get({ from }, adminB.headers);
    expect(b.items.map((i) => i.resourceId)).toEqual(['n-9']);
    // A cursor above every id, and filters that match A's rows, still stay inside B.
    const paged = await get({ from, cursor: '999999999999999', action: 'node.create' }, adminB.headers);
    expect(paged.items.map((i) => i.resourceId)).toEqual(['n-9']);
    expect((await get({ from, actor: 'u-1' }, adminB.headers)).items).toEqual([]);
  });
});
