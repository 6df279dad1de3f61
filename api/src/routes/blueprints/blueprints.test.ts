import { blueprints } from '@keelson/db/schema';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../../../test/platform';

interface Blueprint {
  id: string;
  name: string;
  image: string;
  envKeys: string[];
  ports: Array<{ container: number; host: number; protocol: string }>;
}

describe('blueprints API', () => {
  let p: TestPlatform;
  let operator: SignedIn;
  let viewer: SignedIn;
  const body = { name: 'api', image: 'registry.local/api:1.2', env: { DB_PASSWORD: 'hunter2', MODE: 'prod' }, ports: [{ container: 80, host: 8080 }] };

  beforeAll(async () => {
    p = await createTestPlatform();
    const tenantId = (await p.createTenant()).id;
    operator = await p.signIn({ tenantId, role: 'operator' });
    viewer = await p.signIn({ tenantId, role: 'viewer' });
  });
  afterAll(() => p.close());

  it('creates, reads, replaces and deletes a blueprint; env values are encrypted and never returned', async () => {
    const created = await p.request('/api/blueprints', { headers: operator.headers, body });
    expect(created.status).toBe(201);
    const bp = (await created.json()) as Blueprint;
    expect(bp).toMatchObject({ name: 'api', image: 'registry.local/api:1.2', envKeys: ['DB_PASSWORD', 'MODE'], ports: [{ container: 80, host: 8080, protocol: 'tcp' }] });
    expect(JSON.stringify(bp)).not.toContain('hunter2');
    const [row] = await p.db.select().from(blueprints).where(eq(blueprints.id, bp.id));
    expect(row!.envSealed).toMatch(/^v1\.test1\./);
    expect(row!.envSealed).not.toContain('hunter2');

    const read = await p.request(`/api/blueprints/${bp.id}`, { headers: viewer.headers });
    expect(read.status).toBe(200);
    expect(((await read.json()) as Blueprint).envKeys).toEqual(['DB_PASSWORD', 'MODE']);

    const replaced = await p.request(`/api/blueprints/${bp.id}`, { method: 'PUT', headers: operator.headers, body: { ...body, image: 'registry.local/api:1.3', env: {} } });
    expect(replaced.status).toBe(200);
    expect((await replaced.json()) as Blueprint).toMatchObject({ image: 'registry.local/api:1.3', envKeys: [] });

    expect((await p.request(`/api/blueprints/${bp.id}`, { method: 'DELETE', headers: operator.headers })).status).toBe(204);
    expect((await p.request(`/api/blueprints/${bp.id}`, { headers: operator.headers })).status).toBe(404);
  });

  it('answers 409 for a duplicate name, 400 for bad input, 403 for viewers, 404 for unknown ids', async () => {
    expect((await p.request('/api/blueprints', { headers: operator.headers, body: { ...body, name: 'twice' } })).status).toBe(201);
    expect((await p.request('/api/blueprints', { headers: operator.headers, body: { ...body, name: 'twice' } })).status).toBe(409);
    const dupPort = await p.request('/api/blueprints', { headers: operator.headers, body: { ...body, name: 'ports', ports: [{ container: 1, host: 9000 }, { container: 2, host: 9000 }] } });
    expect(dupPort.status).toBe(400);
    expect(((await dupPort.json()) as { message: string }).message).toContain('host port appears twice');
    const badEnv = await p.request('/api/blueprints', { headers: operator.headers, body: { ...body, name: 'env', env: { 'not valid': 'x' } } });
    expect(badEnv.status).toBe(400);
    expect((await p.request('/api/blueprints', { headers: viewer.headers, body })).status).toBe(403);
    expect((await p.request('/api/blueprints')).status).toBe(401);
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await p.request(`/api/blueprints/${missing}`, { method: 'PUT', headers: operator.headers, body })).status).toBe(404);
    expect((await p.request(`/api/blueprints/${missing}`, { method: 'DELETE', headers: operator.headers })).status).toBe(404);
  });
});
