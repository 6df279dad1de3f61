import { restoreAppRoutes } from '@keelson/activities';
import { appRouteId } from '@keelson/common/constants';
import { subscriptions } from '@keelson/db/schema';
import { eq } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { SuspensionListSchema } from '../api/src/routes/billing/schema';
import { api, createCustomer, createPlan } from './billing-fixtures';
import { setupDeployWorld } from './deploy-harness';
import type { SignedIn } from './platform';
import { freePort, waitForRun } from './runs';
import { until } from './worker-process';

/**
 * Suspension of the services that run on a Docker node (decision 0027), end to end on the real
 * engine behind a real Caddy: a container suspended by staff is stopped and started again when
 * the hold is lifted; an app suspended answers the suspended page through the node's proxy (503,
 * the reason named generically, nothing of the customer's) and its release again once restored.
 */
const w = setupDeployWorld();
let billing: SignedIn;
let planId: string;
const IMAGE = 'keelson/busybox:latest';

beforeAll(async () => {
  billing = await w.p.signIn({ tenantId: w.tenantId, role: 'billing' });
  planId = (await createPlan(w.p, billing, { kind: 'service' }, { monthlyMinor: 900 })).planId;
}, 60_000);

/** A customer (named so that a leak would show) subscribed to `resource`. */
async function subscribe(resource: string) {
  const customer = await createCustomer(w.p, billing, { name: `Secretive ${randomBytes(3).toString('hex')} Ltd` });
  const sub = await api<{ id: string }>(w.p, billing, '/api/subscriptions', { body: { customerId: customer.id, planId, cycle: 'monthly', startAt: new Date().toISOString() } });
  await w.p.db.update(subscriptions).set({ resource }).where(eq(subscriptions.id, sub.id));
  return { customer, subscriptionId: sub.id };
}

const holds = async (subscriptionId: string) => SuspensionListSchema.parse(await api(w.p, billing, `/api/subscriptions/${subscriptionId}/suspensions`)).items;
const holdIn = (subscriptionId: string, state: string) => until(`the hold ${state}`, async () => (await holds(subscriptionId))[0]?.state === state, 90_000);

describe('suspension of Docker services', () => {
  it('a suspended container is stopped on the engine and runs again when restored', { timeout: 180_000 }, async () => {
    const port = await freePort();
    const bp = await w.api<{ id: string }>('/api/blueprints', {
      body: { name: `bp-${randomBytes(3).toString('hex')}`, image: IMAGE, command: ['sh', '-c', 'mkdir -p /www && echo up > /www/index.html && exec httpd -f -p 8080 -h /www'], ports: [{ container: 8080, host: port }], memoryLimitMb: 64 },
      expect: 201,
    });
    const created = await w.api<{ container: { id: string }; run: { workflowId: string } }>('/api/containers', { body: { name: `c-${randomBytes(3).toString('hex')}`, nodeId: w.nodeId, blueprintId: bp.id, logCaptureSeconds: 1 }, expect: 201 });
    expect(await waitForRun(w.p, created.run.workflowId)).toBe('COMPLETED');
    const containerId = created.container.id;
    const engine = async () => {
      const [info] = await w.docker.listContainers({ all: true, filters: { label: [`io.keelson.container=${containerId}`] } });
      return info ? (await w.docker.getContainer(info.Id).inspect()).State : undefined;
    };
    const served = async () => fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) }).then((r) => r.text()).catch(() => null);
    expect((await engine())?.Running).toBe(true);
    await until('the container serving', async () => (await served())?.trim() === 'up');

    const { subscriptionId } = await subscribe(`container:${containerId}`);
    await api(w.p, billing, `/api/subscriptions/${subscriptionId}/suspend`, { body: { note: 'abuse report' }, expect: 202 });
    await holdIn(subscriptionId, 'suspended');
    // Recorded suspended only once the engine had stopped it.
    expect((await engine())?.Running).toBe(false);
    expect(await served()).toBeNull();
    expect((await w.api<{ state: string }>(`/api/containers/${containerId}`)).state).toBe('stopped');

    await api(w.p, billing, `/api/subscriptions/${subscriptionId}/unsuspend`, { method: 'POST', expect: 202 });
    await holdIn(subscriptionId, 'restored');
    expect((await engine())?.Running).toBe(true);
    await until('the container serving again', async () => (await served())?.trim() === 'up');
    expect((await w.api<{ state: string }>(`/api/containers/${containerId}`)).state).toBe('running');
  });

  it('a suspended app answers the suspended page through Caddy and its release again when restored', { timeout: 240_000 }, async () => {
    const app = await w.createApp();
    w.sample.release('shop is open');
    const first = await w.deploy(app.id);
    expect((await w.releaseDone(app.id, first.releaseId, 120_000)).status).toBe('live');
    expect(await w.viaProxy(app.hostname)).toEqual({ status: 200, body: 'shop is open' });

    const { customer, subscriptionId } = await subscribe(`app:${app.id}`);
    const note = `chargeback ${randomBytes(3).toString('hex')}`;
    await api(w.p, billing, `/api/subscriptions/${subscriptionId}/suspend`, { body: { note }, expect: 202 });
    await holdIn(subscriptionId, 'suspended');
    const page = await w.viaProxy(app.hostname);
    expect(page.status).toBe(503);
    expect(page.body).toContain('This service is suspended');
    // The reason, named generically: neither the staff's note nor anything of the customer's.
    expect(page.body).toContain('held by the provider');
    expect(page.body).not.toContain(note);
    expect(page.body).not.toContain(customer.name);
    expect(page.body).not.toContain('shop is open');
    // The release itself still runs: only the proxy answers for it.
    expect((await w.releaseContainers(app.id)).filter((c) => c.State === 'running')).toHaveLength(1);
    // A proxy that lost its routes (a restarted Caddy) gets the page back, not the release.
    await w.proxy.removeRoute(appRouteId(app.id));
    await restoreAppRoutes({ db: w.p.db, proxy: w.proxy, nodeId: w.nodeId });
    expect(await w.viaProxy(app.hostname)).toEqual(page);

    // A deploy while it is suspended goes live behind the page: the hostname stays suspended.
    w.sample.release('shop is open, new prices');
    const second = await w.deploy(app.id);
    expect((await w.releaseDone(app.id, second.releaseId, 120_000)).status).toBe('live');
    expect((await w.viaProxy(app.hostname)).status).toBe(503);

    await api(w.p, billing, `/api/subscriptions/${subscriptionId}/unsuspend`, { method: 'POST', expect: 202 });
    await holdIn(subscriptionId, 'restored');
    expect(await w.viaProxy(app.hostname)).toEqual({ status: 200, body: 'shop is open, new prices' });
  });
});
