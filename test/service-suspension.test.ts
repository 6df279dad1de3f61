import { holdService, liftHold, nudgeSuspension } from '@keelson/activities/suspension/index';
import { serviceSuspensions } from '@keelson/db/schema';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SubscriptionSchema, SuspensionListSchema } from '../api/src/routes/billing/schema';
import { api, createCustomerUser } from './billing-fixtures';
import { createDunningWorld, type DunningWorld } from './dunning-harness';
import { until } from './worker-process';

/**
 * Suspension with a reason (decision 0027) against the Proxmox simulator: staff suspend a
 * customer's VM by hand, another reason holds it too, and the VM runs again only when the last
 * reason is lifted — each stop and start exactly once, each recorded after it happened.
 */
let w: DunningWorld;

beforeAll(async () => {
  w = await createDunningWorld();
  await w.p.startCoreWorker();
}, 120_000);
afterAll(async () => {
  await w?.close();
});

const holds = async (subscriptionId: string) => SuspensionListSchema.parse(await api(w.p, w.billing, `/api/subscriptions/${subscriptionId}/suspensions`)).items;

describe('service suspension', () => {
  it('staff suspend a VM: stopped once, recorded suspended only after it stopped; the customer sees it suspended', { timeout: 120_000 }, async () => {
    const s = await w.serviceWithVm();
    expect((await w.vm(s.vmid)).status).toBe('running');
    const res = await w.p.request(`/api/subscriptions/${s.subscriptionId}/suspend`, { headers: w.billing.headers, body: { note: 'abuse report #12' } });
    expect(res.status).toBe(202);
    const [pending] = SuspensionListSchema.parse(await res.json()).items;
    expect(pending).toMatchObject({ reason: 'staff', note: 'abuse report #12', restoredAt: null });
    // Asking again is the same hold.
    expect((await api<{ items: unknown[] }>(w.p, w.billing, `/api/subscriptions/${s.subscriptionId}/suspend`, { body: { note: 'again' } })).items).toHaveLength(1);

    const [done] = await until('the hold recorded suspended', async () => {
      const h = await holds(s.subscriptionId);
      return h[0]?.state === 'suspended' ? h : undefined;
    });
    // Recorded after the VM was stopped, never before.
    expect((await w.vm(s.vmid)).status).toBe('stopped');
    expect(done!.suspendedAt).not.toBeNull();
    expect((await w.vm(s.vmid)).stops).toBe(1);

    const customer = await createCustomerUser(w.p, w.billing, w.tenantId, s.customerId);
    const seen = SubscriptionSchema.parse(await api(w.p, customer, `/api/subscriptions/${s.subscriptionId}`));
    expect(seen).toMatchObject({ suspended: true, suspensionReasons: ['staff'] });

    // Lifting it brings the VM back, once.
    expect((await w.p.request(`/api/subscriptions/${s.subscriptionId}/unsuspend`, { method: 'POST', headers: w.billing.headers })).status).toBe(202);
    await until('the hold recorded restored', async () => (await holds(s.subscriptionId))[0]?.state === 'restored');
    expect(await w.vm(s.vmid)).toMatchObject({ status: 'running', stops: 1, starts: 1 });
    expect(SubscriptionSchema.parse(await api(w.p, customer, `/api/subscriptions/${s.subscriptionId}`))).toMatchObject({ suspended: false, suspensionReasons: [] });
  });

  it('a service held for two reasons runs again only when both are lifted', { timeout: 120_000 }, async () => {
    const s = await w.serviceWithVm();
    const nudge = () => nudgeSuspension(w.p.temporal, { tenantId: w.tenantId, resource: s.resource, taskQueue: w.p.coreTaskQueue, actor: 'test' });
    await holdService(w.p.db, { tenantId: w.tenantId, resource: s.resource, reason: 'kyc', source: `kyc:${s.customerId}`, requestedBy: 'system', subscriptionId: s.subscriptionId });
    await nudge();
    await api(w.p, w.billing, `/api/subscriptions/${s.subscriptionId}/suspend`, { body: { note: 'chargeback' }, expect: 202 });
    await until('both holds suspended', async () => (await holds(s.subscriptionId)).every((h) => h.state === 'suspended'));
    expect(await w.vm(s.vmid)).toMatchObject({ status: 'stopped', stops: 1 });

    // Staff lift theirs: KYC still holds it.
    await api(w.p, w.billing, `/api/subscriptions/${s.subscriptionId}/unsuspend`, { method: 'POST', expect: 202 });
    await until('the staff hold lifted', async () => (await holds(s.subscriptionId)).some((h) => h.reason === 'staff' && h.state === 'lifting'));
    await new Promise((r) => setTimeout(r, 1500));
    expect(await w.vm(s.vmid)).toMatchObject({ status: 'stopped', starts: 0 });

    // KYC passes: the last reason goes, the VM comes back once, and both holds say so.
    await liftHold(w.p.db, { tenantId: w.tenantId, resource: s.resource, reason: 'kyc', liftedBy: 'system' });
    await nudge();
    await until('both holds restored', async () => (await holds(s.subscriptionId)).every((h) => h.state === 'restored'));
    expect(await w.vm(s.vmid)).toMatchObject({ status: 'running', stops: 1, starts: 1 });
    const rows = await w.p.db.select().from(serviceSuspensions).where(and(eq(serviceSuspensions.tenantId, w.tenantId), eq(serviceSuspensions.resource, s.resource)));
    expect(rows.every((r) => r.suspendedAt! <= r.restoredAt!)).toBe(true);
  });

  it('checks permissions, input and tenancy: billing managers, owners and admins suspend; operators and customers only see', { timeout: 60_000 }, async () => {
    const s = await w.serviceWithVm();
    const path = `/api/subscriptions/${s.subscriptionId}`;
    const viewer = await w.p.signIn({ tenantId: w.tenantId, role: 'viewer' });
    const operator = await w.p.signIn({ tenantId: w.tenantId, role: 'operator' });
    const admin = await w.p.signIn({ tenantId: w.tenantId, role: 'admin' });
    const customer = await createCustomerUser(w.p, w.billing, w.tenantId, s.customerId);
    const other = await w.p.signIn({ tenantId: (await w.p.createTenant()).id, role: 'owner' });
    const post = (who: { headers: Record<string, string> } | null, verb: 'suspend' | 'unsuspend', body?: unknown) =>
      w.p.request(`${path}/${verb}`, { method: 'POST', headers: who?.headers, body });

    expect((await post(null, 'suspend', { note: 'x' })).status).toBe(401);
    for (const who of [viewer, operator, customer]) {
      const res = await post(who, 'suspend', { note: 'x' });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { message: string }).message).toContain('service.suspend');
      expect((await post(who, 'unsuspend')).status).toBe(403);
    }
    expect((await post(other, 'suspend', { note: 'x' })).status).toBe(404);
    for (const body of [{ note: '' }, { note: '   ' }, {}, { note: 'x'.repeat(501) }]) {
      const bad = await post(w.billing, 'suspend', body);
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(await bad.json())).toContain('note');
    }
    expect((await w.p.request(`/api/subscriptions/not-a-uuid/suspend`, { headers: w.billing.headers, body: { note: 'x' } })).status).toBe(400);
    expect((await post(w.billing, 'unsuspend')).status).toBe(409);
    // Nothing was held by any refused request.
    expect(await holds(s.subscriptionId)).toEqual([]);

    // Lifting the staff hold never lifts another reason's: with only a KYC hold, there is no
    // staff hold to lift, and the KYC hold stays in force.
    await holdService(w.p.db, { tenantId: w.tenantId, resource: s.resource, reason: 'kyc', source: `kyc:${s.customerId}`, requestedBy: 'system', subscriptionId: s.subscriptionId });
    expect((await post(admin, 'unsuspend')).status).toBe(409);
    expect((await holds(s.subscriptionId)).map((h) => [h.reason, h.liftedAt])).toEqual([['kyc', null]]);

    // Operators, viewers and the customer read the holds; another organization cannot. The
    // customer reads the reason, not the staff's note nor who placed the hold.
    await post(w.billing, 'suspend', { note: 'abuse report #4411' });
    for (const who of [operator, viewer, customer]) expect((await w.p.request(`${path}/suspensions`, { headers: who.headers })).status).toBe(200);
    const seenByCustomer = SuspensionListSchema.parse(await (await w.p.request(`${path}/suspensions`, { headers: customer.headers })).json()).items;
    expect(seenByCustomer.map((h) => h.reason).sort()).toEqual(['kyc', 'staff']);
    expect(JSON.stringify(seenByCustomer)).not.toContain('abuse report');
    expect(JSON.stringify(seenByCustomer)).not.toContain(w.billing.userId);
    expect((await holds(s.subscriptionId)).find((h) => h.reason === 'staff')?.note).toBe('abuse report #4411');
    expect((await w.p.request(`${path}/suspensions`, { headers: other.headers })).status).toBe(404);
  });
});
