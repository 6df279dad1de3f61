import { proxmoxClusters } from '@keelson/db/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../../../test/platform';
import { ClusterChoiceListSchema, PlanSchema, ProductListSchema, ProductSchema } from './schema';

const ErrorSchema = z.object({ code: z.string(), message: z.string(), requestId: z.string(), details: z.unknown().optional() });

describe('/api/catalog', () => {
  let p: TestPlatform;
  let owner: SignedIn;
  let billing: SignedIn;
  let operator: SignedIn;
  let customer: SignedIn;
  let otherOwner: SignedIn;
  let clusterId: string;

  beforeAll(async () => {
    p = await createTestPlatform();
    const tenant = await p.createTenant();
    owner = await p.signIn({ tenantId: tenant.id, role: 'owner' });
    billing = await p.signIn({ tenantId: tenant.id, role: 'billing' });
    operator = await p.signIn({ tenantId: tenant.id, role: 'operator' });
    customer = await p.signIn({ tenantId: tenant.id, role: 'customer' });
    otherOwner = await p.signIn({ tenantId: (await p.createTenant()).id, role: 'owner' });
    // A cluster record only: plans check that what they provision on is the organization's.
    const [cluster] = await p.db
      .insert(proxmoxClusters)
      .values({ tenantId: tenant.id, name: 'pve', url: 'https://pve.example.test:8006', tokenId: 'root@pam!k', tokenSecretSealed: 'v1.x', caPem: 'pem' })
      .returning();
    clusterId = cluster!.id;
  });
  afterAll(() => p?.close());

  const expectError = async (res: Response, status: number, mentions?: string) => {
    expect(res.status).toBe(status);
    const body = ErrorSchema.parse(await res.json());
    if (mentions) expect(body.message).toContain(mentions);
  };
  const vmPlan = (overrides: Record<string, unknown> = {}) => ({
    name: 'VPS S',
    currency: 'EUR',
    prices: [
      { cycle: 'yearly', amountMinor: 9900 },
      { cycle: 'monthly', amountMinor: 999 },
    ],
    setupFeeMinor: 500,
    trialDays: 7,
    provisioning: { kind: 'proxmox_vm', clusterId, cores: 2, memoryMiB: 2048, diskGiB: 20 },
    ...overrides,
  });

  it('builds products with plans priced per cycle in minor units; customers see only what can be ordered', async () => {
    const res = await p.request('/api/catalog/products', { headers: billing.headers, body: { name: 'VPS', description: 'Virtual servers', requiresKyc: true } });
    expect(res.status).toBe(201);
    const product = ProductSchema.strict().parse(await res.json());
    expect(product).toMatchObject({ name: 'VPS', requiresKyc: true, active: true, plans: [] });

    const planRes = await p.request(`/api/catalog/products/${product.id}/plans`, { headers: billing.headers, body: vmPlan() });
    expect(planRes.status).toBe(201);
    const plan = PlanSchema.strict().parse(await planRes.json());
    expect(plan).toMatchObject({ currency: 'EUR', setupFeeMinor: 500, trialDays: 7, requiresKyc: true });
    expect(plan.prices).toEqual([
      { cycle: 'monthly', amountMinor: 999 },
      { cycle: 'yearly', amountMinor: 9900 },
    ]);
    expect(plan.provisioning).toEqual({ kind: 'proxmox_vm', clusterId, templateVmid: null, cores: 2, memoryMiB: 2048, diskGiB: 20, via: 'api' });

    const service = await p.request(`/api/catalog/products/${product.id}/plans`, {
      headers: owner.headers,
      body: { name: 'Support', currency: 'EUR', prices: [{ cycle: 'quarterly', amountMinor: 15000 }], provisioning: { kind: 'service' }, active: false },
    });
    expect(service.status).toBe(201);
    const hidden = PlanSchema.parse(await service.json());

    // Staff see inactive plans on request; customers never do.
    const staff = ProductListSchema.parse(await (await p.request('/api/catalog/products?includeInactive=true', { headers: operator.headers })).json());
    expect(staff.items[0]!.plans.map((x) => x.name)).toEqual(['Support', 'VPS S']);
    const portal = ProductListSchema.parse(await (await p.request('/api/catalog/products?includeInactive=true', { headers: customer.headers })).json());
    expect(portal.items[0]!.plans.map((x) => x.name)).toEqual(['VPS S']);
    await expectError(await p.request(`/api/catalog/plans/${hidden.id}`, { headers: customer.headers }), 404);
    expect((await p.request(`/api/catalog/plans/${hidden.id}`, { headers: operator.headers })).status).toBe(200);

    // Operators and customers read; only billing, admins and owners change the catalog.
    for (const who of [operator, customer]) {
      await expectError(await p.request('/api/catalog/products', { headers: who.headers, body: { name: 'x' } }), 403, 'catalog.manage');
      await expectError(await p.request(`/api/catalog/plans/${plan.id}`, { method: 'PUT', headers: who.headers, body: vmPlan() }), 403);
    }

    // Replace: a price change and a new cycle.
    const put = await p.request(`/api/catalog/plans/${plan.id}`, { method: 'PUT', headers: billing.headers, body: vmPlan({ prices: [{ cycle: 'monthly', amountMinor: 1299 }] }) });
    expect(put.status).toBe(200);
    expect(PlanSchema.parse(await put.json()).prices).toEqual([{ cycle: 'monthly', amountMinor: 1299 }]);

    // Another organization sees none of it.
    expect(ProductListSchema.parse(await (await p.request('/api/catalog/products', { headers: otherOwner.headers })).json()).items).toEqual([]);
    await expectError(await p.request(`/api/catalog/products/${product.id}`, { headers: otherOwner.headers }), 404);
    await expectError(await p.request(`/api/catalog/plans/${plan.id}`, { headers: otherOwner.headers }), 404);
    await expectError(await p.request(`/api/catalog/products/${product.id}/plans`, { headers: otherOwner.headers, body: vmPlan({ name: 'x' }) }), 404);

    // Deleting: a plan, then the product.
    expect((await p.request(`/api/catalog/plans/${hidden.id}`, { method: 'DELETE', headers: owner.headers })).status).toBe(204);
    expect((await p.request(`/api/catalog/products/${product.id}`, { method: 'DELETE', headers: owner.headers })).status).toBe(204);
    await expectError(await p.request(`/api/catalog/plans/${plan.id}`, { headers: owner.headers }), 404);
  });

  it('answers 400 naming the field for money that is not whole minor units, bad cycles and foreign references', async () => {
    const product = ProductSchema.parse(await (await p.request('/api/catalog/products', { headers: owner.headers, body: { name: 'Apps' } })).json());
    const plan = (body: unknown) => p.request(`/api/catalog/products/${product.id}/plans`, { headers: owner.headers, body });
    for (const [body, field] of [
      [vmPlan({ prices: [{ cycle: 'monthly', amountMinor: 9.99 }] }), 'prices.0.amountMinor'],
      [vmPlan({ prices: [{ cycle: 'weekly', amountMinor: 100 }] }), 'prices.0.cycle'],
      [vmPlan({ prices: [] }), 'prices'],
      [vmPlan({ prices: [{ cycle: 'monthly', amountMinor: 1 }, { cycle: 'monthly', amountMinor: 2 }] }), 'priced twice'],
      [vmPlan({ setupFeeMinor: -1 }), 'setupFeeMinor'],
      [vmPlan({ currency: 'XYZ1' }), 'currency'],
      [vmPlan({ provisioning: { kind: 'proxmox_vm', clusterId, cores: 0, memoryMiB: 512 } }), 'provisioning.cores'],
      [vmPlan({ provisioning: { kind: 'teleporter' } }), 'provisioning'],
      [vmPlan({ provisioning: { kind: 'proxmox_lxc', clusterId: '00000000-0000-4000-8000-000000000000', cores: 1, memoryMiB: 512 } }), 'provisioning.clusterId'],
      [vmPlan({ provisioning: { kind: 'container', blueprintId: '00000000-0000-4000-8000-000000000000', nodeId: '00000000-0000-4000-8000-000000000000' } }), 'provisioning.nodeId'],
    ] as const) {
      await expectError(await plan(body), 400, field);
    }
    expect((await plan(vmPlan())).status).toBe(201);
    await expectError(await plan(vmPlan()), 409, 'VPS S');
    await expectError(await p.request('/api/catalog/products', { headers: owner.headers, body: { name: 'Apps' } }), 409);
    await expectError(await p.request('/api/catalog/products'), 401);
  });

  it('lets those who write plans list the clusters’ names and default templates, and nothing of how to reach them', async () => {
    const res = await p.request('/api/catalog/clusters', { headers: billing.headers });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(ClusterChoiceListSchema.strict().parse(body).items).toEqual([{ id: clusterId, name: 'pve', defaultTemplateVmid: null, defaultOstemplate: null, defaultStorage: null }]);
    expect(JSON.stringify(body)).not.toMatch(/pve\.example\.test|root@pam|pem/);
    // Billing staff still do not see the Proxmox pages themselves.
    expect((await p.request('/api/proxmox/clusters', { headers: billing.headers })).status).toBe(403);
    await expectError(await p.request('/api/catalog/clusters', { headers: customer.headers }), 403);
    expect(ClusterChoiceListSchema.parse(await (await p.request('/api/catalog/clusters', { headers: otherOwner.headers })).json()).items).toEqual([]);
    expect((await p.request('/api/catalog/clusters')).status).toBe(401);
  });
});
