import { PERMISSIONS } from '@keelson/common/permissions';
import { nodes } from '@keelson/db/schema';
import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../test/platform';
import { findUnsafeInput, unsafeTextReason } from './edge';

describe('the edge rule', () => {
  it('finds NUL, lone surrogates, oversized lists and deep nesting, and names where', () => {
    expect(unsafeTextReason('plain ✓ 😀')).toBeNull();
    expect(unsafeTextReason('a\u0000b')).toMatch(/NUL/);
    expect(unsafeTextReason('\ud800')).toMatch(/surrogate/);
    expect(unsafeTextReason('x\udc00')).toMatch(/surrogate/);
    expect(findUnsafeInput({ a: [{ b: 'ok' }, { b: 'no\u0000' }] })).toEqual({ path: 'a[1].b', message: 'must not contain NUL characters' });
    expect(findUnsafeInput({ env: { 'K\u0000': 'v' } })?.path).toBe('env.K\\u0000');
    expect(findUnsafeInput({ list: Array.from({ length: 1001 }, () => 1) })).toEqual({ path: 'list', message: 'has more than 1000 items' });
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findUnsafeInput(deep)?.message).toMatch(/nested/);
  });
});

/** The reproductions of issue 10, finding 6: each was a 500. */
describe('NUL and friends at the API', () => {
  let p: TestPlatform;
  let admin: SignedIn;
  let nodeId: string;

  beforeAll(async () => {
    p = await createTestPlatform();
    const tenant = await p.createTenant();
    admin = await p.signIn({ tenantId: tenant.id, role: 'admin' });
    const [node] = await p.db.insert(nodes).values({ tenantId: tenant.id, name: 'edge-node', endpoint: 'unix:///var/run/docker.sock' }).returning();
    nodeId = node!.id;
  });
  afterAll(() => p.close());

  async function expect400(res: Response, field: string) {
    const body = (await res.json()) as { code: string; message: string; details?: { issues: Array<{ path: string }> } };
    expect(res.status, JSON.stringify(body)).toBe(400);
    expect(body.code).toBe('validation_failed');
    expect(body.message.startsWith(`${field}: `)).toBe(true);
    expect(body.details?.issues[0]?.path).toBe(field);
  }

  it('refuses them in bodies, queries and path parameters with a 400 naming the field', async () => {
    await expect400(await p.request('/api/auth/login', { body: { email: 'a@b.c\u0000', password: 'x' } }), 'email');
    await expect400(await p.request('/api/blueprints', { headers: admin.headers, body: { name: 'b', image: 'busybox', description: 'd\u0000' } }), 'description');
    await expect400(await p.request('/api/blueprints', { headers: admin.headers, body: { name: 'b', image: 'busybox', env: { KEY: '\ud83d' } } }), 'env.KEY');
    await expect400(
      await p.request('/api/apps', { headers: admin.headers, body: { name: 'a', repoUrl: 'https://x/\u0000.git', containerPort: 80, hostname: 'a.test', nodeId } }),
      'repoUrl',
    );
    await expect400(await p.request('/api/api-keys', { headers: admin.headers, body: { name: 'k\u0000', scopes: ['workflow.read'] } }), 'name');
    await expect400(await p.request('/api/members', { headers: admin.headers, body: { email: 'm@example.test', name: 'n\u0000', role: 'viewer', password: 'long enough' } }), 'name');
    await expect400(await p.request(`/api/audit?action=${encodeURIComponent('x\u0000')}`, { headers: admin.headers }), 'action');
    await expect400(await p.request(`/api/runs/${encodeURIComponent('run\u0000')}`, { headers: admin.headers }), 'workflowId');
  });

  it('bounds and de-duplicates scopes', async () => {
    const flood = await p.request('/api/api-keys', { headers: admin.headers, body: { name: 'k', scopes: Array.from({ length: 10_000 }, () => 'workflow.read') } });
    expect(flood.status).toBe(400);
    const twice = await p.request('/api/api-keys', { headers: admin.headers, body: { name: 'k', scopes: ['workflow.read', 'node.read', 'workflow.read'] } });
    expect(twice.status).toBe(201);
    expect(((await twice.json()) as { apiKey: { scopes: string[] } }).apiKey.scopes).toEqual(['node.read', 'workflow.read']);
    expect(PERMISSIONS.length).toBeLessThan(10_000);
  });

  it("answers a signed webhook whose ref carries a NUL as malformed, naming ref", async () => {
    const created = await p.request('/api/apps', {
      headers: admin.headers,
      body: { name: 'hooked', repoUrl: 'https://git.example.test/x.git', containerPort: 80, hostname: `h-${randomUUID().slice(0, 8)}.test`, nodeId },
    });
    expect(created.status).toBe(201);
    const app = (await created.json()) as { id: string; webhookSecret: string };
    const raw = JSON.stringify({ ref: 'refs/heads/ma\u0000in', after: 'a'.repeat(40) });
    const res = await p.app.request(`/api/webhooks/github/${app.id}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-github-delivery': randomUUID(),
        'x-hub-signature-256': `sha256=${createHmac('sha256', app.webhookSecret).update(raw).digest('hex')}`,
      },
      body: raw,
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { outcome: string; reason: string };
    expect(body.outcome).toBe('malformed');
    expect(body.reason).toContain('ref: must not contain NUL');
  });
});
