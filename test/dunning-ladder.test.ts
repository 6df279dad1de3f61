import { WorkflowId } from '@keelson/common/constants';
import { guests } from '@keelson/db/schema';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvoiceDunningSchema, SubscriptionSchema } from '../api/src/routes/billing/schema';
import { api, createCustomerUser } from './billing-fixtures';
import { createDunningWorld, type DunningWorld } from './dunning-harness';
import { until } from './worker-process';

/**
 * The ladder's other ends (decision 0027), on a short ladder of 0.4 s days: termination after a
 * person approves it destroys the VM on the simulator and cancels the subscription; a void
 * invoice ends the ladder and brings its service back; settings are checked and staff-only.
 */
let w: DunningWorld;

beforeAll(async () => {
  w = await createDunningWorld();
  await w.p.startCoreWorker({ billing: { dunningDayMs: 400 } });
  await api(w.p, w.billing, '/api/billing/dunning', {
    method: 'PUT',
    body: { enabled: true, terminationApproval: true, ladder: [{ day: 2, kind: 'suspend' }, { day: 0, kind: 'reminder' }, { day: 4, kind: 'terminate' }] },
  });
}, 120_000);
afterAll(async () => {
  await w?.close();
});

const dunning = async (invoiceId: string) => InvoiceDunningSchema.parse(await api(w.p, w.billing, `/api/invoices/${invoiceId}/dunning`));

describe('the dunning ladder', () => {
  it('terminates the services after the approval: the VM destroyed, the subscription cancelled', { timeout: 180_000 }, async () => {
    const s = await w.serviceWithVm();
    const inv = await w.invoiceOf(s.subscriptionId);
    const workflowId = WorkflowId.dunning(inv.id);
    const owner = w.owner;
    // The ladder waits for a person before destroying anything.
    await until('the approval asked', async () => {
      const res = await w.p.request(`/api/runs/${encodeURIComponent(workflowId)}`, { headers: owner.headers });
      if (res.status === 404) return false; // not started yet
      return ((await res.json()) as { waitingFor: Array<{ kind: string }> }).waitingFor.some((x) => x.kind === 'approval');
    }, 120_000);
    expect(await w.vm(s.vmid)).toMatchObject({ status: 'stopped', exists: true });
    expect((await dunning(inv.id)).steps.map((x) => [x.kind, x.outcome])).toEqual([
      ['reminder', 'sent'],
      ['suspend', 'suspended'],
      ['terminate', null],
    ]);

    // A billing manager of the organization answers it (decision 0031); a customer, a billing
    // manager of another organization and a viewer cannot.
    const approval = `/api/runs/${encodeURIComponent(workflowId)}/approval`;
    const viewer = await w.p.signIn({ tenantId: w.tenantId, role: 'viewer' });
    const customer = await createCustomerUser(w.p, w.billing, w.tenantId, s.customerId);
    const elsewhere = await w.p.signIn({ tenantId: (await w.p.createTenant()).id, role: 'billing' });
    expect((await w.p.request(approval, { headers: customer.headers, body: { decision: 'approve' } })).status).toBe(403);
    expect((await w.p.request(approval, { headers: viewer.headers, body: { decision: 'approve' } })).status).toBe(403);
    expect((await w.p.request(approval, { headers: elsewhere.headers, body: { decision: 'approve' } })).status).toBe(404);
    expect((await w.p.request(approval, { headers: w.billing.headers, body: { decision: 'perhaps' } })).status).toBe(400);
    const seen = (await api<{ actions: { decide: boolean } }>(w.p, w.billing, `/api/runs/${encodeURIComponent(workflowId)}`)).actions;
    expect(seen.decide).toBe(true);
    expect(await api(w.p, w.billing, approval, { body: { decision: 'approve', comment: 'unpaid for 30 days' } })).toMatchObject({ outcome: 'approved', by: `user:${w.billing.userId}` });
    expect(await w.p.temporal.workflow.getHandle(workflowId).result()).toEqual({ outcome: 'terminated' });
    expect((await w.vm(s.vmid)).exists).toBe(false);
    const [guest] = await w.p.db.select({ state: guests.state }).from(guests).where(eq(guests.id, s.guestId));
    expect(guest!.state).toBe('destroyed');
    expect(SubscriptionSchema.parse(await api(w.p, w.billing, `/api/subscriptions/${s.subscriptionId}`)).status).toBe('cancelled');
    expect((await dunning(inv.id)).steps.at(-1)).toMatchObject({ kind: 'terminate', outcome: 'terminated' });
  });

  it('a voided invoice ends the ladder and its service comes back', { timeout: 180_000 }, async () => {
    const s = await w.serviceWithVm();
    const inv = await w.invoiceOf(s.subscriptionId);
    await until('the VM suspended', async () => (await dunning(inv.id)).suspensions[0]?.state === 'suspended', 120_000);
    await api(w.p, w.billing, `/api/invoices/${inv.id}/void`, { body: { reason: 'billed by mistake' } });
    expect(await w.p.temporal.workflow.getHandle(WorkflowId.dunning(inv.id)).result()).toEqual({ outcome: 'void' });
    expect((await dunning(inv.id)).suspensions[0]).toMatchObject({ reason: 'overdue', state: 'restored' });
    expect(await w.vm(s.vmid)).toMatchObject({ status: 'running', stops: 1, starts: 1 });
  });

  it('checks the ladder settings: staff only, 400 naming the field', async () => {
    const customerLike = await w.p.signIn({ tenantId: w.tenantId, role: 'viewer' });
    expect((await w.p.request('/api/billing/dunning', { method: 'PUT', headers: customerLike.headers, body: { enabled: true, terminationApproval: true, ladder: [] } })).status).toBe(403);
    const bad = await w.p.request('/api/billing/dunning', { method: 'PUT', headers: w.billing.headers, body: { enabled: true, terminationApproval: true, ladder: [{ day: -1, kind: 'reminder' }] } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('ladder');
    const twice = await w.p.request('/api/billing/dunning', { method: 'PUT', headers: w.billing.headers, body: { enabled: true, terminationApproval: true, ladder: [{ day: 1, kind: 'reminder' }, { day: 1, kind: 'reminder' }] } });
    expect(twice.status).toBe(400);
    expect((await w.p.request('/api/billing/dunning', { headers: customerLike.headers })).status).toBe(200);
  });
});
