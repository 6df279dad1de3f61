import { WorkflowType } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { alerts, containers, metricSamples, monitoredResources, nodes } from '@keelson/db/schema';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type SignedIn, type TestPlatform } from './platform';
import { waitForRun } from './runs';

/**
 * One organization can neither list, read, stream nor act on another's runs, API keys,
 * nodes, blueprints or containers: every such request is a 404 (or an empty list), and none
 * of them starts anything.
 */
describe('tenant isolation', () => {
  let p: TestPlatform;
  let a: SignedIn;
  let b: SignedIn;
  let aRun: { workflowId: string };
  let aWaiting: { workflowId: string };
  let aKeyId: string;
  let aContainerId: string;
  let aBlueprintId: string;
  let aNodeId: string;

  beforeAll(async () => {
    p = await createTestPlatform();
    await p.startCoreWorker();
    a = await p.signIn({ tenantId: (await p.createTenant()).id, role: 'owner' });
    b = await p.signIn({ tenantId: (await p.createTenant()).id, role: 'owner' });

    const start = async (input: object) =>
      (await (await p.request('/api/runs', { headers: a.headers, body: { operation: 'system.noop', input } })).json()) as { workflowId: string };
    aRun = await start({ echo: ['a-only'] });
    aWaiting = await start({ waitForApproval: true });
    await waitForRun(p, aRun.workflowId);

    const key = await p.request('/api/api-keys', { headers: a.headers, body: { name: 'a-key', scopes: ['workflow.read'] } });
    aKeyId = ((await key.json()) as { apiKey: { id: string } }).apiKey.id;

    const bp = await p.request('/api/blueprints', { headers: a.headers, body: { name: 'a-bp', image: 'keelson/busybox:latest' } });
    aBlueprintId = ((await bp.json()) as { id: string }).id;
    // A node and a container record, written directly: reaching them through the API is what is tested.
    const [node] = await p.db.insert(nodes).values({ tenantId: a.tenantId, name: 'a-node', endpoint: 'unix:///var/run/docker.sock' }).returning();
    aNodeId = node!.id;
    const [c] = await p.db
      .insert(containers)
      .values({
        tenantId: a.tenantId,
        nodeId: aNodeId,
        name: 'a-container',
        state: 'running',
        spec: { image: 'keelson/busybox:latest', command: [], ports: [], volumes: [], envKeys: [], cpuLimit: null, memoryLimitMb: null },
      })
      .returning();
    aContainerId = c!.id;
  });
  afterAll(() => p.close());

  const run = (id: string, suffix = '') => `/api/runs/${encodeURIComponent(id)}${suffix}`;

  it("does not list another organization's runs, even when filtering for them", async () => {
    const mine = (await (await p.request('/api/runs', { headers: a.headers })).json()) as { items: Array<{ workflowId: string }> };
    for (let i = 0; i < 30 && !mine.items.some((r) => r.workflowId === aRun.workflowId); i++) {
      await new Promise((r) => setTimeout(r, 200));
      Object.assign(mine, await (await p.request('/api/runs', { headers: a.headers })).json());
    }
    expect(mine.items.map((r) => r.workflowId)).toContain(aRun.workflowId);
    for (const query of ['', '?operation=system.noop', `?resource=${encodeURIComponent('container:' + aContainerId)}`, '?status=Running']) {
      const theirs = (await (await p.request(`/api/runs${query}`, { headers: b.headers })).json()) as { items: unknown[] };
      expect(theirs.items, query).toEqual([]);
    }
  });

  it("answers 404 for reading, streaming or acting on another organization's run", async () => {
    expect((await p.request(run(aRun.workflowId), { headers: b.headers })).status).toBe(404);
    expect((await p.request(run(aRun.workflowId, '/stream'), { headers: b.headers })).status).toBe(404);
    for (const [suffix, body] of [
      ['/cancel', undefined],
      ['/terminate', { reason: 'x' }],
      ['/retry', undefined],
      ['/rerun', undefined],
      ['/signal', { name: 'note', args: ['from b'] }],
      ['/update', { name: 'approve', args: [{ by: 'b' }] }],
      ['/approval', { decision: 'approve' }],
    ] as const) {
      const res = await p.request(run(aWaiting.workflowId, suffix), { method: 'POST', headers: b.headers, body });
      expect(res.status, suffix).toBe(404);
    }
    // Still waiting, untouched: nothing B sent reached it.
    const d = (await (await p.request(run(aWaiting.workflowId), { headers: a.headers })).json()) as { status: string; steps: Array<{ kind: string; state: string }> };
    expect(d.status).toBe('Running');
    expect(d.steps.map((s) => [s.kind, s.state])).toEqual([['approval', 'waiting']]); // its own question, nothing from B
  });

  it("does not expose another organization's API keys, nodes, blueprints, containers, members or audit rows", async () => {
    const lists: Array<[string, (body: unknown) => unknown[]]> = [
      ['/api/api-keys', (x) => (x as { items: unknown[] }).items],
      ['/api/nodes', (x) => (x as { items: unknown[] }).items],
      ['/api/blueprints', (x) => (x as { items: unknown[] }).items],
      ['/api/containers', (x) => (x as { items: unknown[] }).items],
    ];
    for (const [url, items] of lists) {
      expect(items(await (await p.request(url, { headers: b.headers })).json()), url).toEqual([]);
    }
    const members = (await (await p.request('/api/members', { headers: b.headers })).json()) as { items: Array<{ email: string }> };
    expect(members.items.map((m) => m.email)).toEqual([b.email]);
    const audit = JSON.stringify(await (await p.request('/api/audit', { headers: b.headers })).json());
    expect(audit).not.toContain(aRun.workflowId);
    expect(audit).not.toContain(aBlueprintId);

    expect((await p.request(`/api/api-keys/${aKeyId}`, { method: 'DELETE', headers: b.headers })).status).toBe(404);
    expect((await p.request(`/api/nodes/${aNodeId}`, { headers: b.headers })).status).toBe(404);
    expect((await p.request(`/api/blueprints/${aBlueprintId}`, { headers: b.headers })).status).toBe(404);
    expect((await p.request(`/api/blueprints/${aBlueprintId}`, { method: 'DELETE', headers: b.headers })).status).toBe(404);
    expect((await p.request(`/api/containers/${aContainerId}`, { headers: b.headers })).status).toBe(404);
    expect((await p.request(`/api/containers/${aContainerId}/actions`, { headers: b.headers, body: { action: 'stop' } })).status).toBe(404);
    expect((await p.request(`/api/containers/${aContainerId}`, { method: 'DELETE', headers: b.headers })).status).toBe(404);
    expect((await p.request('/api/runs', { headers: b.headers, body: { operation: 'container.stop', input: { containerId: aContainerId } } })).status).toBe(404);

    // B cannot build on A's node or blueprint either.
    const create = await p.request('/api/containers', { headers: b.headers, body: { name: 'sneaky', nodeId: aNodeId, blueprintId: aBlueprintId } });
    expect(create.status).toBe(400);
    expect((await p.request(`/api/api-keys`, { headers: a.headers })).status).toBe(200);
    const aKeys = (await (await p.request('/api/api-keys', { headers: a.headers })).json()) as { items: Array<{ id: string; revokedAt: string | null }> };
    expect(aKeys.items.find((k) => k.id === aKeyId)?.revokedAt).toBeNull();
  });

  it("does not expose another organization's metrics, rules, alerts, silences or maintenance windows", async () => {
    const [resource] = await p.db
      .insert(monitoredResources)
      .values({ tenantId: a.tenantId, kind: 'docker_node', key: aNodeId, name: 'a-node', refId: aNodeId, node: aNodeId, status: 'online', lastSampleAt: new Date(), lastValues: { cpuPercent: 50 } })
      .returning();
    await p.db.insert(metricSamples).values({ resourceId: resource!.id, tenantId: a.tenantId, at: new Date(), cpuPercent: 50 });
    const rule = (await (
      await p.request('/api/monitoring/rules', { headers: a.headers, body: { name: 'a-rule', metric: 'cpu_percent', scope: { type: 'resource', resourceId: resource!.id }, comparison: '>', threshold: 90 } })
    ).json()) as { id: string };
    const [alert] = await p.db
      .insert(alerts)
      .values({ id: randomUUID(), tenantId: a.tenantId, ruleId: rule.id, resourceId: resource!.id, kind: 'metric', workflowId: `alert/${rule.id}/${resource!.id}`, state: 'firing', severity: 'warning', summary: 'a-alert', startedAt: new Date() })
      .returning();
    const silence = (await (await p.request('/api/monitoring/silences', { headers: a.headers, body: { matchers: { ruleId: rule.id }, endsAt: new Date(Date.now() + 3600_000).toISOString() } })).json()) as { id: string };
    const window = (await (
      await p.request('/api/monitoring/maintenance-windows', { headers: a.headers, body: { name: 'a-window', scope: { type: 'all' }, startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 3600_000).toISOString() } })
    ).json()) as { id: string };

    for (const url of ['/api/monitoring/resources', '/api/monitoring/rules', '/api/monitoring/alerts', '/api/monitoring/silences', '/api/monitoring/maintenance-windows']) {
      expect(((await (await p.request(url, { headers: b.headers })).json()) as { items: unknown[] }).items, url).toEqual([]);
    }
    const overview = JSON.stringify(await (await p.request('/api/monitoring/overview', { headers: b.headers })).json());
    expect(overview).not.toContain('a-node');
    expect(overview).not.toContain('a-alert');
    expect((await p.request(`/api/monitoring/resources/${resource!.id}`, { headers: b.headers })).status).toBe(404);
    expect((await p.request(`/api/monitoring/resources/${resource!.id}/series`, { headers: b.headers })).status).toBe(404);
    expect((await p.request(`/api/monitoring/series?kind=docker_node&refId=${aNodeId}`, { headers: b.headers })).status).toBe(404);
    expect((await p.request(`/api/monitoring/rules/${rule.id}`, { headers: b.headers })).status).toBe(404);
    expect((await p.request(`/api/monitoring/rules/${rule.id}`, { method: 'DELETE', headers: b.headers })).status).toBe(404);
    expect((await p.request(`/api/monitoring/alerts/${alert!.id}`, { headers: b.headers })).status).toBe(404);
    expect((await p.request(`/api/monitoring/alerts/${alert!.id}/acknowledge`, { headers: b.headers, body: { comment: 'not mine' } })).status).toBe(404);
    expect((await p.request(`/api/monitoring/silences/${silence.id}`, { method: 'DELETE', headers: b.headers })).status).toBe(404);
    expect((await p.request(`/api/monitoring/maintenance-windows/${window.id}`, { method: 'DELETE', headers: b.headers })).status).toBe(404);
    // B cannot aim a rule or a silence at A's resource or rule.
    const sneaky = await p.request('/api/monitoring/rules', { headers: b.headers, body: { name: 'sneaky', metric: 'cpu_percent', scope: { type: 'resource', resourceId: resource!.id }, comparison: '>', threshold: 1 } });
    expect(sneaky.status).toBe(400);
    expect((await p.request('/api/monitoring/silences', { headers: b.headers, body: { matchers: { ruleId: rule.id }, endsAt: new Date(Date.now() + 60_000).toISOString() } })).status).toBe(400);
    // A still sees its own.
    expect(((await (await p.request('/api/monitoring/alerts', { headers: a.headers })).json()) as { items: unknown[] }).items).toHaveLength(1);
    expect(((await (await p.request(`/api/monitoring/resources/${resource!.id}/series?range=15m`, { headers: a.headers })).json()) as { points: unknown[] }).points).toHaveLength(1);
  });

  it("a customer user sees only their own customer: not another customer's record, runs or streams, nor another organization's", async () => {
    const customerBody = (name: string) => ({
      kind: 'individual',
      name,
      address: { line1: '1 Main St', postalCode: '94103', city: 'San Francisco', country: 'US' },
      currency: 'USD',
      timeZone: 'America/Los_Angeles',
      contacts: [{ name, email: `${name.toLowerCase()}@example.test` }],
    });
    const create = async (who: typeof a, name: string) => ((await (await p.request('/api/customers', { headers: who.headers, body: customerBody(name) })).json()) as { id: string }).id;
    const c1 = await create(a, 'Ada');
    const c2 = await create(a, 'Grace');
    const bCustomer = await create(b, 'Linus');
    const portal1 = await p.signIn({ tenantId: a.tenantId, role: 'customer' });
    const portal2 = await p.signIn({ tenantId: a.tenantId, role: 'customer' });
    for (const [portal, customerId] of [[portal1, c1], [portal2, c2]] as const) {
      expect((await p.request(`/api/customers/${customerId}/users`, { headers: a.headers, body: { userId: portal.userId } })).status).toBe(200);
    }

    // One run about each customer, tagged as every billing run is.
    const startAbout = async (customerId: string) => {
      const workflowId = `noop/${randomUUID()}`;
      await p.temporal.workflow.start(WorkflowType.noop, {
        taskQueue: p.coreTaskQueue,
        workflowId,
        args: [{ tenantId: a.tenantId, actor: 'system', echo: [customerId] }],
        typedSearchAttributes: runSearchAttributes({ tenantId: a.tenantId, operation: 'system.noop', resources: [`customer:${customerId}`], actor: 'system' }),
      });
      await waitForRun(p, workflowId);
      return workflowId;
    };
    const run1 = await startAbout(c1);
    const run2 = await startAbout(c2);

    const ids = async (who: typeof a, url: string) => ((await (await p.request(url, { headers: who.headers })).json()) as { items: Array<{ id?: string; workflowId?: string }> }).items.map((x) => x.id ?? x.workflowId);
    expect(await ids(portal1, '/api/customers')).toEqual([c1]);
    expect(await ids(portal2, '/api/customers')).toEqual([c2]);
    for (let i = 0; i < 50 && !(await ids(portal1, '/api/runs')).includes(run1); i++) await new Promise((r) => setTimeout(r, 200));
    expect(await ids(portal1, '/api/runs')).toEqual([run1]);
    // Filtering for the other customer's resource or operation finds nothing either.
    expect(await ids(portal1, `/api/runs?resource=${encodeURIComponent('customer:' + c2)}`)).toEqual([]);
    expect(await ids(portal1, '/api/runs?operation=system.noop')).toEqual([run1]);

    expect((await p.request(`/api/customers/${c2}`, { headers: portal1.headers })).status).toBe(404);
    expect((await p.request(`/api/customers/${bCustomer}`, { headers: portal1.headers })).status).toBe(404);
    expect((await p.request(run(run2), { headers: portal1.headers })).status).toBe(404);
    expect((await p.request(run(run2, '/stream'), { headers: portal1.headers })).status).toBe(404);
    expect((await p.request(run(aRun.workflowId), { headers: portal1.headers })).status).toBe(404);
    expect((await p.request(run(run1), { headers: portal1.headers })).status).toBe(200);
    // Staff of the organization see both; the other organization sees neither.
    expect((await p.request(run(run2), { headers: a.headers })).status).toBe(200);
    expect((await p.request(run(run1), { headers: b.headers })).status).toBe(404);
    expect(await ids(b, '/api/customers')).toEqual([bCustomer]);

    // Nothing else of the organization is a customer user's to see.
    for (const url of ['/api/nodes', '/api/blueprints', '/api/containers', '/api/apps', '/api/proxmox/guests', '/api/members', '/api/audit', '/api/mail/emails', '/api/monitoring/alerts', '/api/api-keys']) {
      expect((await p.request(url, { headers: portal1.headers })).status, url).toBe(403);
    }
    // Nor may they start, cancel or decode anything.
    expect((await p.request('/api/runs', { headers: portal1.headers, body: { operation: 'system.noop', input: {} } })).status).toBe(403);
    expect((await p.request(run(run1, '/cancel'), { method: 'POST', headers: portal1.headers })).status).toBe(403);
  });

  it("an API key of one organization cannot reach another's runs", async () => {
    const bKey = await p.createApiKey({ tenantId: b.tenantId, scopes: ['workflow.read', 'workflow.cancel', 'workflow.payloads'] });
    const auth = { authorization: `Bearer ${bKey}` };
    expect((await p.request(run(aRun.workflowId), { headers: auth })).status).toBe(404);
    expect((await p.request(run(aWaiting.workflowId, '/cancel'), { method: 'POST', headers: auth })).status).toBe(404);
    expect(((await (await p.request('/api/runs', { headers: auth })).json()) as { items: unknown[] }).items).toEqual([]);
  });
});
