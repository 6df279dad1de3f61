import { guests, invoices, orders, subscriptions } from '@keelson/db/schema';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createCustomer, createCustomerUser, createPlan, pollUntil } from '../../../../test/billing-fixtures';
import type { SignedIn, TestPlatform } from '../../../../test/platform';
import { clusterBody, startProxmoxForCoreWorker } from '../../../../test/proxmox-api-fixture';
import type { ProxmoxHarness } from '../../../../test/proxmox-harness';
import { waitForRun } from '../../../../test/runs';
import { startSmtpReceiver, type SmtpReceiver } from '../../../../test/smtp';
import { CreditNoteSchema, InvoiceSchema } from '../billing/schema';
import { QuoteSchema } from '../quotes/schema';
import { OrderSchema, PlacedOrderSchema } from './schema';

/**
 * Quotes and orders through the API, run by the platform's core worker against the Proxmox
 * simulator: a quote becomes one order with one numbered, emailed first invoice; each customer
 * sees only their own; and an order whose provisioning fails leaves no VM behind, its
 * subscription cancelled and its invoice credited in full.
 */
let h: ProxmoxHarness;
let p: TestPlatform;
let staff: SignedIn;
let operator: SignedIn;
let customer: { id: string; name: string };
let portal: SignedIn;
let otherPortal: SignedIn;
let clusterId: string;
let smtp: SmtpReceiver;

type Order = ReturnType<typeof OrderSchema.parse>;
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq0bW9ja2tleWZvcnRlc3RzMDAwMDAwMDAwMDAwMDAwMDAw you@laptop';

beforeAll(async () => {
  h = await startProxmoxForCoreWorker('api-orders');
  p = h.platform;
  await p.startCoreWorker();
  const admin = await p.signIn({ tenantId: h.tenantId, role: 'admin' });
  staff = await p.signIn({ tenantId: h.tenantId, role: 'billing' });
  operator = await p.signIn({ tenantId: h.tenantId, role: 'operator' });
  clusterId = (await api<{ id: string }>(p, admin, '/api/proxmox/clusters', { body: clusterBody(h) })).id;
  smtp = await startSmtpReceiver();
  await api(p, admin, '/api/mail/smtp', { method: 'PUT', body: { host: '127.0.0.1', port: smtp.port, security: 'none', fromAddress: 'billing@hoster.test' } });
  customer = await createCustomer(p, staff);
  const other = await createCustomer(p, staff);
  portal = await createCustomerUser(p, staff, h.tenantId, customer.id);
  otherPortal = await createCustomerUser(p, staff, h.tenantId, other.id);
}, 120_000);

afterAll(async () => {
  await h?.close();
  await smtp?.close();
});

type Invoice = ReturnType<typeof InvoiceSchema.parse>;

/** The order's invoices as the database holds them (every one, whatever created it). */
async function invoicesOf(orderId: string) {
  return p.db.select().from(invoices).where(eq(invoices.orderId, orderId));
}

describe('quotes', () => {
  it('staff write and send a quote; the customer sees it once sent, accepts it once, and it becomes an order on account', { timeout: 60_000 }, async () => {
    const { planId } = await createPlan(p, staff, { kind: 'service' });
    const validUntil = new Date(Date.now() + 7 * 86_400_000).toISOString();
    const body = {
      customerId: customer.id,
      title: 'Managed support',
      cycle: 'monthly',
      validUntil,
      lines: [
        { description: 'Support plan', quantity: 1, unitAmountMinor: 9900, planId },
        { description: 'Onboarding workshop', quantity: 3, unitAmountMinor: 12_000 },
      ],
    };

    // Bad input is a 400 naming the problem.
    const noPlan = await p.request('/api/quotes', { headers: staff.headers, body: { ...body, lines: [body.lines[1]] } });
    expect(noPlan.status).toBe(400);
    expect(await noPlan.text()).toMatch(/exactly one line names a planId/);
    const past = await p.request('/api/quotes', { headers: staff.headers, body: { ...body, validUntil: '2020-01-01T00:00:00Z' } });
    expect(past.status).toBe(400);
    expect(await past.text()).toMatch(/validUntil: must be in the future/);
    // Operators see money but do not change it; customers do not write quotes.
    expect((await p.request('/api/quotes', { headers: operator.headers, body })).status).toBe(403);
    expect((await p.request('/api/quotes', { headers: portal.headers, body })).status).toBe(403);

    const draft = QuoteSchema.parse(await api(p, staff, '/api/quotes', { body, expect: 201 }));
    expect(draft).toMatchObject({ status: 'draft', currency: 'EUR', totalMinor: 9900 + 36_000 });
    expect(draft.reference).toMatch(/^Q-\d{4}-\d{4}$/);
    // A draft is the staff's own: the customer neither lists nor opens it.
    expect((await api<{ items: unknown[] }>(p, portal, '/api/quotes')).items).toEqual([]);
    expect((await p.request(`/api/quotes/${draft.id}`, { headers: portal.headers })).status).toBe(404);

    await api(p, staff, `/api/quotes/${draft.id}/send`, { method: 'POST' });
    const seen = (await api<{ items: Array<{ id: string; status: string }> }>(p, portal, '/api/quotes')).items;
    expect(seen.map((q) => [q.id, q.status])).toEqual([[draft.id, 'sent']]);
    // Another customer's user sees nothing of it.
    expect((await api<{ items: unknown[] }>(p, otherPortal, '/api/quotes')).items).toEqual([]);
    expect((await p.request(`/api/quotes/${draft.id}/accept`, { headers: otherPortal.headers, body: {} })).status).toBe(404);
    // A sent quote no longer changes.
    expect((await p.request(`/api/quotes/${draft.id}`, { method: 'PUT', headers: staff.headers, body })).status).toBe(409);

    const placed = PlacedOrderSchema.parse(await api(p, portal, `/api/quotes/${draft.id}/accept`, { body: {}, expect: 202 }));
    expect(placed.order).toMatchObject({ quoteId: draft.id, onAccount: true, priceMinor: 9900, cycle: 'monthly' });
    expect(placed.order.oneOffLines).toEqual([{ description: 'Onboarding workshop', quantity: 3, unitAmountMinor: 12_000 }]);
    expect(placed.run.workflowId).toBe(`order/${placed.order.id}`);
    const again = await p.request(`/api/quotes/${draft.id}/accept`, { headers: portal.headers, body: {} });
    expect(again.status).toBe(409);

    // On account, a plain service line: no acceptance to wait for, nothing to provision.
    expect(await waitForRun(p, placed.run.workflowId)).toBe('COMPLETED');
    const order = OrderSchema.parse(await api(p, portal, `/api/orders/${placed.order.id}`));
    expect(order.status).toBe('active');
    const [sub] = await p.db.select().from(subscriptions).where(eq(subscriptions.id, order.subscriptionId!));
    expect(sub).toMatchObject({ status: 'active', customerId: customer.id, unitPriceMinor: 9900, orderId: order.id });

    // One first invoice, numbered: the first period at the quote's price and its one-off lines.
    expect((await invoicesOf(order.id)).map((i) => i.id)).toEqual([order.invoiceId]);
    const invoice = await pollUntil(() => api<Invoice>(p, portal, `/api/invoices/${order.invoiceId}`), (i) => i.emails.some((e) => e.status === 'sent'));
    expect(invoice).toMatchObject({ status: 'finalized', orderId: order.id, subscriptionId: sub!.id, totalMinor: 9900 + 36_000, pdfReady: true });
    expect(invoice.number).toMatch(/^INV-\d{4}-\d{6}$/);
    expect(invoice.lines.map((l) => [l.kind, l.quantity, l.unitPriceMinor])).toEqual([
      ['plan', 1, 9900],
      ['custom', 3, 12_000],
    ]);
    expect(invoice.periodStart).toBe(sub!.currentPeriodStart!.toISOString());
    // The billing run will not invoice that period again: the subscription is past it.
    expect(sub!.nextPeriodIndex).toBe(1);
    const mail = await smtp.waitForMessage((m) => m.subject.startsWith(`Invoice ${invoice.number} `));
    expect(mail.to).toEqual([invoice.customer!.email]);
    expect(mail.attachments.map((a) => a.filename)).toEqual([`${invoice.number}.pdf`]);
    expect((await p.request(`/api/orders/${order.id}`, { headers: otherPortal.headers })).status).toBe(404);
    // The customer can follow their order's run; another customer cannot.
    expect((await p.request(`/api/runs/${encodeURIComponent(placed.run.workflowId)}`, { headers: portal.headers })).status).toBe(200);
    expect((await p.request(`/api/runs/${encodeURIComponent(placed.run.workflowId)}`, { headers: otherPortal.headers })).status).toBe(404);
  });
});

describe('orders', () => {
  it('a customer’s order waits for staff; a VM whose provisioning fails leaves no VM, the subscription cancelled, the invoice credited in full', { timeout: 90_000 }, async () => {
    const { planId } = await createPlan(p, staff, { kind: 'proxmox_vm', clusterId, cores: 1, memoryMiB: 512 }, { setupFeeMinor: 2500 });

    // A VM needs a way in.
    const noKeys = await p.request('/api/orders', { headers: portal.headers, body: { planId, cycle: 'monthly', hostname: 'web-1' } });
    expect(noKeys.status).toBe(400);
    expect(await noKeys.text()).toMatch(/sshKeys: at least one SSH public key/);
    const badCycle = await p.request('/api/orders', { headers: portal.headers, body: { planId, cycle: 'yearly', sshKeys: [KEY] } });
    expect(badCycle.status).toBe(400);
    expect(await badCycle.text()).toMatch(/cycle: the plan is not sold yearly/);
    expect((await p.request('/api/orders', { headers: operator.headers, body: { customerId: customer.id, planId, cycle: 'monthly', sshKeys: [KEY] } })).status).toBe(403);

    // Every clone's start fails: provisioning undoes the clone.
    await h.sim.control.addFault({ match: { taskType: 'qmstart' }, action: { kind: 'task-failure', message: 'start failed: QEMU exited with code 1' } });
    const name = `vm-${placedSuffix()}`;
    const placed = PlacedOrderSchema.parse(await api(p, portal, '/api/orders', { body: { planId, cycle: 'monthly', hostname: name, adminUser: 'alice', sshKeys: [KEY] }, expect: 202 }));
    expect(placed.order).toMatchObject({ onAccount: false, priceMinor: 1250 });
    expect(placed.order.oneOffLines).toEqual([expect.objectContaining({ quantity: 1, unitAmountMinor: 2500 })]);

    const waiting = await pollUntil(() => api<Order>(p, staff, `/api/orders/${placed.order.id}`), (o) => o.status === 'awaiting_acceptance', 30_000);
    expect(waiting.status).toBe('awaiting_acceptance');
    // Only billing staff decide.
    expect((await p.request(`/api/orders/${placed.order.id}/accept`, { headers: portal.headers, body: {} })).status).toBe(403);
    expect((await p.request(`/api/orders/${placed.order.id}/accept`, { headers: operator.headers, body: {} })).status).toBe(403);
    const accepted = OrderSchema.parse(await api(p, staff, `/api/orders/${placed.order.id}/accept`, { body: { comment: 'ok' } }));
    expect(accepted.decidedBy).toBe(`user:${staff.userId}`);

    expect(await waitForRun(p, placed.run.workflowId)).toBe('FAILED');
    const failed = OrderSchema.parse(await api(p, portal, `/api/orders/${placed.order.id}`));
    expect(failed.status).toBe('failed');
    expect(failed.lastError).toMatch(/VM provisioning failed at step "start"/);
    expect(failed.service).toMatchObject({ kind: 'guest', name, state: 'failed' });
    // Nothing half-made: no VM on the cluster, no container behind one.
    const left = await h.leftovers();
    expect(left.guests.filter((g) => g.name === name)).toEqual([]);
    const [guest] = await p.db.select().from(guests).where(eq(guests.id, failed.service!.id));
    expect(guest!.state).toBe('failed');
    const [sub] = await p.db.select().from(subscriptions).where(eq(subscriptions.id, failed.subscriptionId!));
    expect(sub!.status).toBe('cancelled');
    const [row] = await p.db.select().from(orders).where(eq(orders.id, failed.id));
    expect(row!.status).toBe('failed');

    // The order's one invoice (first month and setup fee), finalized, and a credit note for all of it.
    expect((await invoicesOf(failed.id)).map((i) => i.id)).toEqual([failed.invoiceId]);
    const invoice = await api<Invoice>(p, portal, `/api/invoices/${failed.invoiceId}`);
    expect(invoice).toMatchObject({ status: 'finalized', totalMinor: 1250 + 2500 });
    expect(invoice.number).toMatch(/^INV-/);
    expect(invoice.lines.map((l) => [l.kind, l.unitPriceMinor])).toEqual([
      ['plan', 1250],
      ['setup', 2500],
    ]);
    const note = CreditNoteSchema.parse(await api(p, portal, `/api/credit-notes/${failed.creditNoteId}`));
    expect(note).toMatchObject({ invoiceId: invoice.id, invoiceNumber: invoice.number, totalMinor: invoice.totalMinor });
    expect(note.number).toMatch(/^CN-\d{4}-\d{6}$/);
    expect(note.reason).toMatch(/VM provisioning failed/);
    expect(invoice.creditNotes.map((c) => c.id)).toEqual([note.id]);
    // Both reach the customer's billing contact, each once.
    await smtp.waitForMessage((m) => m.subject.startsWith(`Credit note ${note.number} `), 60_000);
    await smtp.waitForMessage((m) => m.subject.startsWith(`Invoice ${invoice.number} `), 60_000);
    expect(smtp.messages.filter((m) => m.subject.includes(note.number!) || m.subject.includes(invoice.number!))).toHaveLength(2);
    await h.sim.control.clearFaults();
  });
});

function placedSuffix() {
  return Math.random().toString(36).slice(2, 8);
}
