import { containers } from '@keelson/db/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../../../test/platform';

interface NodeBody {
  id: string;
  name: string;
  status: string;
  taskQueue: string;
  capacity: { cpus: number } | null;
  workerEnv?: Record<string, string>;
}

describe('nodes API', () => {
  let p: TestPlatform;
  let admin: SignedIn;
  let viewer: SignedIn;

  beforeAll(async () => {
    p = await createTestPlatform();
    const tenantId = (await p.createTenant()).id;
    admin = await p.signIn({ tenantId, role: 'admin' });
    viewer = await p.signIn({ tenantId, role: 'viewer' });
  });
  afterAll(() => p.close());

  it('registers a node that stays pending until its worker reports, then shows it online with capacity', async () => {
    const res = await p.request('/api/nodes', { headers: admin.headers, body: { name: 'edge-1', endpoint: 'tcp://10.0.0.7:2376' } });
    expect(res.status).toBe(201);
    const node = (await res.json()) as NodeBody;
    expect(node).toMatchObject({ name: 'edge-1', status: 'pending', capacity: null, taskQueue: `node-${node.id}` });
    expect(node.workerEnv).toMatchObject({ KEELSON_NODE_IDS: node.id, KEELSON_CORE_WORKER: 'false' });

    // A worker for the local engine reports health for its node.
    const local = await p.addDockerNode(admin.tenantId, 'local');
    const shown = (await (await p.request(`/api/nodes/${local.id}`, { headers: viewer.headers })).json()) as NodeBody;
    expect(shown.status).toBe('online');
    expect(shown.capacity?.cpus).toBeGreaterThan(0);
    const list = (await (await p.request('/api/nodes', { headers: viewer.headers })).json()) as { items: NodeBody[] };
    expect(list.items.map((n) => n.name)).toEqual(['edge-1', 'local']);
  });

  it('refuses duplicates, bad endpoints and viewers; 404 for unknown ids', async () => {
    expect((await p.request('/api/nodes', { headers: admin.headers, body: { name: 'dup' } })).status).toBe(201);
    const dup = await p.request('/api/nodes', { headers: admin.headers, body: { name: 'dup' } });
    expect(dup.status).toBe(409);
    const bad = await p.request('/api/nodes', { headers: admin.headers, body: { name: 'x', endpoint: 'http://nope' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toContain('endpoint');
    expect((await p.request('/api/nodes', { headers: viewer.headers, body: { name: 'v' } })).status).toBe(403);
    expect((await p.request('/api/nodes')).status).toBe(401);
    expect((await p.request('/api/nodes/00000000-0000-4000-8000-000000000000', { headers: admin.headers })).status).toBe(404);
  });

  it('removes a node only when it has no live containers, and audits both', async () => {
    const node = (await (await p.request('/api/nodes', { headers: admin.headers, body: { name: 'busy' } })).json()) as NodeBody;
    const [c] = await p.db
      .insert(containers)
      .values({
        tenantId: admin.tenantId,
        nodeId: node.id,
        name: 'still-here',
        state: 'running',
        spec: { image: 'x', command: [], ports: [], volumes: [], envKeys: [], cpuLimit: null, memoryLimitMb: null },
      })
      .returning();
    const refused = await p.request(`/api/nodes/${node.id}`, { method: 'DELETE', headers: admin.headers });
    expect(refused.status).toBe(409);
    await p.db.update(containers).set({ state: 'removed' });
    expect((await p.request(`/api/nodes/${node.id}`, { method: 'DELETE', headers: admin.headers })).status).toBe(204);
    expect((await p.request(`/api/nodes/${node.id}`, { headers: admin.headers })).status).toBe(404);
    const audit = (await (await p.request(`/api/audit?resourceId=${node.id}`, { headers: admin.headers })).json()) as { items: Array<{ action: string }> };
    expect(audit.items.map((a) => a.action).sort()).toEqual(['node.register', 'node.remove']);
    expect(c).toBeDefined();
  });
});
