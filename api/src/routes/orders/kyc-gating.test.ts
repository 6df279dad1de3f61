import { creditNotes, invoices, subscriptions } from '@keelson/db/schema';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createCustomer, createCustomerUser, pollUntil } from '../../../../test/billing-fixtures';
import { PNG, upload } from '../../../../test/kyc-harness';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../../../test/platform';
import { waitForRun } from '../../../../test/runs';
import { startSmtpReceiver, type SmtpReceiver } from '../../../../test/smtp';
import { OrderSchema, PlacedOrderSchema } from './schema';

type Order = ReturnType<typeof OrderSchema.parse>;

/**
 * Orders of a product that requires KYC (decision 0028): the order's run waits for the
 * customer's case; an approval lets it provision, a case rejected for good or no approval in
 * time cancels it and credits its invoice through the order's credit-note path.
 */
describe('orders gated by KYC', () => {
  let p: TestPlatform;
  let smtp: SmtpReceiver;
  let staff: SignedIn;
  let reviewer: SignedIn;
  let planId: string;

  beforeAll(async () => {
    p = await createTestPlatform();
    p.deps.config.kycTimeline = { reviewSlaMs: 600_000, retentionMs: 1_000 };
    const tenantId = (await p.createTenant()).id;
    const owner = await p.signIn({ tenantId, role: 'owner' });
    staff = await p.signIn({ tenantId, role: 'billing' });
    reviewer = await p.signIn({ tenantId, role: 'billing' });
    smtp = await startSmtpReceiver();
    await api(p, owner, '/api/mail/smtp', { method: 'PUT', body: { host: '127.0.0.1', port: smtp.port, security: 'none', fromAddress: 'billing@hoster.test' } });
    await api(p, staff, '/api/billing/settings', { method: 'PUT', body: { legalName: 'Hoster Ltd', address: { line1: '1 Quay', postalCode: 'D01', city: 'Dublin', country: 'IE' } } });
    const product = await api<{ id: string }>(p, staff, '/api/catalog/products', { body: { name: 'Dedicated servers', requiresKyc: true } });
    planId = (await api<{ id: string }>(p, staff, `/api/catalog/products/${product.id}/plans`, { body: { name: 'D1', currency: 'EUR', prices: [{ cycle: 'monthly', amountMinor: 9900 }], setupFeeMinor: 5000, provisioning: { kind: 'service' } } })).id;
    await p.startCoreWorker();
  });
  afterAll(async () => {
    await p?.close();
    await smtp?.close();
  });

  const orderOf = (who: SignedIn, id: string) => api<Order>(p, who, `/api/orders/${id}`);

  it('waits for the customer’s KYC approval, then provisions; the customer is asked for documents once', { timeout: 90_000 }, async () => {
    const customer = await createCustomer(p, staff);
    const portal = await createCustomerUser(p, staff, staff.tenantId, customer.id);
    const placed = PlacedOrderSchema.parse(await api(p, staff, '/api/orders', { body: { customerId: customer.id, planId, cycle: 'monthly' }, expect: 202 }));
    const waiting = await pollUntil(() => orderOf(portal, placed.order.id), (o) => o.status === 'awaiting_kyc', 30_000);
    expect(waiting.status).toBe('awaiting_kyc');
    // The order opened the customer's case: they are asked for documents.
    const asked = await smtp.waitForMessage((m) => m.subject === 'Please verify your identity', 30_000);
    const [contact] = (await api<{ contacts: Array<{ email: string }> }>(p, staff, `/api/customers/${customer.id}`)).contacts;
    expect(asked.to).toEqual([contact!.email]);

    // Still waiting a moment later: nothing is provisioned or activated without KYC.
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await orderOf(staff, placed.order.id)).status).toBe('awaiting_kyc');
    const [pending] = await p.db.select().from(subscriptions).where(eq(subscriptions.id, waiting.subscriptionId!));
    expect(pending!.status).toBe('pending');

    // The customer uploads and submits; a reviewer approves; the order goes on by itself.
    expect((await upload(p, portal, customer.id, PNG)).status).toBe(201);
    expect((await p.request(`/api/kyc/cases/${customer.id}/submit`, { method: 'POST', headers: portal.headers })).status).toBe(200);
    const approved = await p.request(`/api/kyc/cases/${customer.id}/decision`, { headers: reviewer.headers, body: { decision: 'approve' } });
    expect(approved.status).toBe(200);
    const decidedAt = Date.now();
    const active = await pollUntil(() => orderOf(portal, placed.order.id), (o) => o.status === 'active', 30_000, 50);
    expect(active.status).toBe('active');
    console.info(`KYC approval → order active: ${Date.now() - decidedAt} ms`);
    const [sub] = await p.db.select().from(subscriptions).where(eq(subscriptions.id, active.subscriptionId!));
    expect(sub!.status).toBe('active');
    expect(active.creditNoteId).toBeNull();
    expect(await waitForRun(p, placed.run.workflowId)).toBe('COMPLETED');
    expect(smtp.messages.filter((m) => m.subject === 'Please verify your identity' && m.to.includes(contact!.email))).toHaveLength(1);

    // A second order of an approved customer does not wait.
    const again = PlacedOrderSchema.parse(await api(p, staff, '/api/orders', { body: { customerId: customer.id, planId, cycle: 'monthly' }, expect: 202 }));
    expect(await waitForRun(p, again.run.workflowId)).toBe('COMPLETED');
    expect((await orderOf(staff, again.order.id)).status).toBe('active');
  });

  it('no approval in time cancels the order and credits its invoice in full', { timeout: 90_000 }, async () => {
    p.deps.config.orderKycTimeoutMs = 3_000;
    try {
      const customer = await createCustomer(p, staff);
      const portal = await createCustomerUser(p, staff, staff.tenantId, customer.id);
      const placed = PlacedOrderSchema.parse(await api(p, portal, '/api/orders', { body: { planId, cycle: 'monthly' }, expect: 202 }));
      await pollUntil(() => orderOf(portal, placed.order.id), (o) => o.status === 'awaiting_kyc', 30_000);
      expect(await waitForRun(p, placed.run.workflowId)).toBe('COMPLETED');
      const cancelled = await orderOf(portal, placed.order.id);
      expect(cancelled).toMatchObject({ status: 'canceled', lastError: 'the identity check was not approved in time' });
      const [invoice] = await p.db.select().from(invoices).where(eq(invoices.id, cancelled.invoiceId!));
      const [note] = await p.db.select().from(creditNotes).where(eq(creditNotes.id, cancelled.creditNoteId!));
      expect(invoice!.totalMinor).toBe(9900 + 5000);
      expect(note).toMatchObject({ invoiceId: invoice!.id, totalMinor: invoice!.totalMinor });
      const [sub] = await p.db.select().from(subscriptions).where(eq(subscriptions.id, cancelled.subscriptionId!));
      expect(sub!.status).toBe('cancelled');
      // The credit note reaches the customer like any other.
      await smtp.waitForMessage((m) => m.subject.startsWith(`Credit note ${note!.number} `), 60_000);
    } finally {
      delete p.deps.config.orderKycTimeoutMs;
    }
  });

  it('a case rejected for good cancels the waiting order at once', { timeout: 90_000 }, async () => {
    const customer = await createCustomer(p, staff);
    const portal = await createCustomerUser(p, staff, staff.tenantId, customer.id);
    const placed = PlacedOrderSchema.parse(await api(p, staff, '/api/orders', { body: { customerId: customer.id, planId, cycle: 'monthly' }, expect: 202 }));
    await pollUntil(() => orderOf(staff, placed.order.id), (o) => o.status === 'awaiting_kyc', 30_000);
    await pollUntil(() => api<{ case: unknown }>(p, staff, `/api/kyc/cases/${customer.id}`), (c) => c.case !== null, 30_000);
    expect((await upload(p, portal, customer.id, PNG)).status).toBe(201);
    expect((await p.request(`/api/kyc/cases/${customer.id}/submit`, { method: 'POST', headers: portal.headers })).status).toBe(200);
    const rejected = await p.request(`/api/kyc/cases/${customer.id}/decision`, { headers: reviewer.headers, body: { decision: 'reject', reason: 'forged', final: true } });
    expect(rejected.status).toBe(200);
    expect(await waitForRun(p, placed.run.workflowId)).toBe('COMPLETED');
    const cancelled = await orderOf(staff, placed.order.id);
    expect(cancelled).toMatchObject({ status: 'canceled', lastError: 'the identity check was rejected for good' });
    expect(cancelled.creditNoteId).not.toBeNull();
  });
});
