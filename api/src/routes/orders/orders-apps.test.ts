import { apps, subscriptions } from '@keelson/db/schema';
import { eq } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, createCustomer, createCustomerUser, createPlan } from '../../../../test/billing-fixtures';
import { setupDeployWorld } from '../../../../test/deploy-harness';
import type { SignedIn } from '../../../../test/platform';
import { waitForRun } from '../../../../test/runs';
import { CreditNoteSchema } from '../billing/schema';
import { OrderSchema, PlacedOrderSchema } from './schema';

/**
 * Orders of plans that deploy an app from git, on the real Docker engine behind a real Caddy:
 * the order's child run is the app's first deploy, and the customer's app answers under the domain
 * they chose. An app whose first release never serves leaves no app, no container and no claim on
 * its domain behind, and the order's invoice is credited.
 */
const world = setupDeployWorld();
let staff: SignedIn;
let portal: SignedIn;
let customer: { id: string; name: string };

beforeAll(async () => {
  const { p, tenantId } = world;
  staff = await p.signIn({ tenantId, role: 'billing' });
  customer = await createCustomer(p, staff);
  portal = await createCustomerUser(p, staff, tenantId, customer.id);
}, 60_000);

const domain = () => `shop-${randomBytes(4).toString('hex')}.test`;

describe('orders of app plans', () => {
  it('deploys the plan’s repository for the customer under their domain; a release that never serves leaves nothing and a credit note', { timeout: 240_000 }, async () => {
    const { p } = world;
    world.sample.release('hello from an order');
    const { planId } = await createPlan(p, staff, { kind: 'app', repoUrl: world.sample.repoUrl, branch: 'main', containerPort: 8080, nodeId: world.nodeId });

    const served = domain();
    const placed = PlacedOrderSchema.parse(await api(p, staff, '/api/orders', { body: { customerId: customer.id, planId, cycle: 'monthly', domain: served }, expect: 202 }));
    expect(await waitForRun(p, placed.run.workflowId)).toBe('COMPLETED');
    const order = OrderSchema.parse(await api(p, portal, `/api/orders/${placed.order.id}`));
    expect(order).toMatchObject({ status: 'active', service: { kind: 'app', state: 'running', address: served } });
    expect((await world.viaProxy(served)).body).toContain('hello from an order');
    const [sub] = await p.db.select().from(subscriptions).where(eq(subscriptions.id, order.subscriptionId!));
    expect(sub).toMatchObject({ status: 'active', resource: `app:${order.service!.id}` });
    // The domain is taken now.
    const again = await p.request('/api/orders', { headers: staff.headers, body: { customerId: customer.id, planId, cycle: 'monthly', domain: served } });
    expect(again.status).toBe(400);
    expect(((await again.json()) as { message: string }).message).toBe(`domain: ${served} is already served; choose another`);

    // The repository's head now crashes on start: the first deploy of a second order fails.
    world.sample.crashing();
    const lost = domain();
    const failing = PlacedOrderSchema.parse(await api(p, staff, '/api/orders', { body: { customerId: customer.id, planId, cycle: 'monthly', domain: lost }, expect: 202 }));
    expect(await waitForRun(p, failing.run.workflowId)).toBe('FAILED');
    const failed = OrderSchema.parse(await api(p, portal, `/api/orders/${failing.order.id}`));
    expect(failed.status).toBe('failed');
    expect(failed.service).toMatchObject({ kind: 'app', state: 'destroyed' });
    // Nothing left: no app record (its domain is free again), no release container.
    expect(await p.db.select().from(apps).where(eq(apps.hostname, lost))).toEqual([]);
    expect(await world.releaseContainers(failed.service!.id)).toEqual([]);
    const note = CreditNoteSchema.parse(await api(p, portal, `/api/credit-notes/${failed.creditNoteId}`));
    expect(note.invoiceId).toBe(failed.invoiceId);
    // The first order's app still serves.
    expect((await world.viaProxy(served)).body).toContain('hello from an order');
  });
});
