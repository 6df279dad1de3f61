import { customerContacts, outboundEmails } from '@keelson/db/schema';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvoiceDunningSchema, SubscriptionSchema, SuspensionListSchema } from '../api/src/routes/billing/schema';
import { CaseDetailSchema, CaseViewSchema } from '../api/src/routes/kyc/schema';
import { api, createCustomerUser } from './billing-fixtures';
import { createDunningWorld, type DunningWorld } from './dunning-harness';
import { PNG, upload } from './kyc-harness';
import type { SignedIn } from './platform';
import { until } from './worker-process';

/**
 * A KYC approval withdrawn after the customer's services run (decision 0030), on the Proxmox
 * simulator: revoking holds every service for `kyc` (the VM stopped), paying an overdue invoice
 * lifts only its `overdue` hold (the VM stays stopped), and the approval of a new verification
 * brings the VM back. An approval that runs out without re-verification holds the services the
 * same way. Each email to the customer once, by its Message-ID.
 */
let w: DunningWorld;
let reviewer: SignedIn;

/** Short enough to run out within the test when a case is opened with it. */
const SHORT_VALIDITY = { remindersMs: [600_000], documentsDueMs: 1_200_000, reviewSlaMs: 600_000, validForMs: 6_000, reverifyAheadMs: 3_000, retentionMs: 1_000 };
const LONG_VALIDITY = { ...SHORT_VALIDITY, validForMs: 3_600_000, reverifyAheadMs: 60_000 };

beforeAll(async () => {
  w = await createDunningWorld();
  w.p.deps.config.kycTimeline = LONG_VALIDITY;
  reviewer = await w.p.signIn({ tenantId: w.tenantId, role: 'billing' });
  // A short ladder (0.4 s days): a reminder on the due date, the services suspended a day later.
  await w.p.startCoreWorker({ billing: { dunningDayMs: 400 } });
  await api(w.p, w.billing, '/api/billing/dunning', { method: 'PUT', body: { enabled: true, terminationApproval: true, ladder: [{ day: 0, kind: 'reminder' }, { day: 1, kind: 'suspend' }] } });
}, 120_000);
afterAll(async () => {
  await w?.close();
});

const messageOf = async (res: Response) => ((await res.json()) as { message: string }).message;
const kycCase = async (who: SignedIn, customerId: string) => CaseDetailSchema.parse(await api(w.p, who, `/api/kyc/cases/${customerId}`));
const holds = async (subscriptionId: string) => SuspensionListSchema.parse(await api(w.p, w.billing, `/api/subscriptions/${subscriptionId}/suspensions`)).items;
const subscription = async (who: SignedIn, id: string) => SubscriptionSchema.parse(await api(w.p, who, `/api/subscriptions/${id}`));

/** A customer whose service is a running VM, with a portal user and a known billing email. */
async function customerWithVm() {
  const s = await w.serviceWithVm();
  const { contacts } = await api<{ contacts: Array<{ email: string; isBilling: boolean }> }>(w.p, w.billing, `/api/customers/${s.customerId}`);
  const email = contacts.find((c) => c.isBilling)!.email;
  const portal = await createCustomerUser(w.p, w.billing, w.tenantId, s.customerId);
  return { ...s, email, portal };
}

/** The customer opens (or reopens) their case, uploads a document and submits it; a reviewer approves. */
async function verify(customerId: string, portal: SignedIn) {
  const before = (await kycCase(portal, customerId)).case?.id ?? null;
  await api(w.p, portal, `/api/kyc/cases/${customerId}`, { method: 'POST', body: {}, expect: 202 });
  await until('a case waiting for documents', async () => {
    const c = (await kycCase(portal, customerId)).case;
    return c && c.id !== before && c.state === 'awaiting_documents';
  });
  expect((await upload(w.p, portal, customerId, PNG)).status).toBe(201);
  expect(CaseViewSchema.parse(await api(w.p, portal, `/api/kyc/cases/${customerId}/submit`, { method: 'POST' })).state).toBe('in_review');
  const approved = CaseViewSchema.parse(await api(w.p, reviewer, `/api/kyc/cases/${customerId}/decision`, { body: { decision: 'approve' } }));
  expect(approved.state).toBe('approved');
}

describe('a KYC approval withdrawn', () => {
  it('an approval that runs out without re-verification suspends the services for kyc', { timeout: 120_000 }, async () => {
    const s = await customerWithVm();
    w.p.deps.config.kycTimeline = SHORT_VALIDITY;
    try {
      await verify(s.customerId, s.portal);
    } finally {
      w.p.deps.config.kycTimeline = LONG_VALIDITY;
    }
    // Re-verification is asked first; nobody answers; the approval runs out.
    await w.smtp.waitForMessage((m) => m.to.includes(s.email) && m.subject === 'Please verify your identity again', 30_000);
    await until('the case expired', async () => (await kycCase(s.portal, s.customerId)).case?.state === 'expired', 30_000);
    await until('the kyc hold suspended', async () => (await holds(s.subscriptionId)).some((h) => h.reason === 'kyc' && h.state === 'suspended'), 60_000);
    expect(await w.vm(s.vmid)).toMatchObject({ status: 'stopped', stops: 1 });
    expect(await subscription(s.portal, s.subscriptionId)).toMatchObject({ suspended: true, suspensionReasons: ['kyc'] });
    const expired = await w.smtp.waitForMessage((m) => m.to.includes(s.email) && m.subject === 'Your identity verification expired', 30_000);
    expect(expired.text).toContain('suspended until you verify your identity again');
    await new Promise((r) => setTimeout(r, 1000));
    expect(w.smtp.messages.filter((m) => m.messageId === expired.messageId)).toHaveLength(1);
  });

  it('revoked: the VM stops; paying an overdue invoice leaves it stopped; a new approval brings it back', { timeout: 240_000 }, async () => {
    const s = await customerWithVm();
    await verify(s.customerId, s.portal);
    const revoke = (who: SignedIn, body: unknown) => w.p.request(`/api/kyc/cases/${s.customerId}/revoke`, { headers: who.headers, body });

    // Who may revoke, and what: the same permission as decisions, a reason, never one's own customer.
    expect((await revoke(s.portal, { reason: 'x' })).status).toBe(403);
    const operator = await w.p.signIn({ tenantId: w.tenantId, role: 'operator' });
    expect((await revoke(operator, { reason: 'x' })).status).toBe(403);
    const other = await w.p.signIn({ tenantId: (await w.p.createTenant()).id, role: 'owner' });
    expect((await revoke(other, { reason: 'x' })).status).toBe(404);
    const blank = await revoke(reviewer, { reason: '  ' });
    expect(blank.status).toBe(400);
    expect(await messageOf(blank)).toContain('reason');
    const insider = await w.p.signIn({ tenantId: w.tenantId, role: 'billing' });
    await w.p.db.insert(customerContacts).values({ tenantId: w.tenantId, customerId: s.customerId, name: 'Insider', email: insider.email, isBilling: false, position: 1 });
    const own = await revoke(insider, { reason: 'x' });
    expect(own.status).toBe(403);
    expect(await messageOf(own)).toContain('cannot decide the case of a customer they belong to');
    expect((await kycCase(reviewer, s.customerId)).case?.state).toBe('approved');

    const revoked = await revoke(reviewer, { reason: 'the passport was reported stolen' });
    expect(revoked.status).toBe(200);
    expect(CaseViewSchema.parse(await revoked.json())).toMatchObject({ state: 'revoked', reason: 'the passport was reported stolen' });
    // Only an approved case can be revoked.
    const again = await revoke(reviewer, { reason: 'again' });
    expect(again.status).toBe(409);
    expect(await messageOf(again)).toContain('only an approved case can be revoked');

    await until('the kyc hold suspended', async () => (await holds(s.subscriptionId)).some((h) => h.reason === 'kyc' && h.state === 'suspended'), 60_000);
    expect(await w.vm(s.vmid)).toMatchObject({ status: 'stopped', stops: 1 });
    // The customer's portal says why: the service suspended for kyc, the case revoked with its reason.
    expect(await subscription(s.portal, s.subscriptionId)).toMatchObject({ suspended: true, suspensionReasons: ['kyc'] });
    const seen = await kycCase(s.portal, s.customerId);
    expect(seen.case).toMatchObject({ state: 'revoked', reason: 'the passport was reported stolen' });
    expect(seen.history.map((h) => h.event)).toEqual(['opened', 'submitted', 'in_review', 'approved', 'revoked', 'services_suspended']);

    // The customer's invoice falls overdue: its ladder suspends too (the VM already stopped), then it is paid.
    const inv = await w.invoiceOf(s.subscriptionId);
    const dunning = async () => InvoiceDunningSchema.parse(await api(w.p, w.billing, `/api/invoices/${inv.id}/dunning`));
    await until('the overdue hold suspended', async () => (await dunning()).suspensions.some((h) => h.reason === 'overdue' && h.state === 'suspended'), 90_000);
    await api(w.p, w.billing, `/api/invoices/${inv.id}/mark-paid`, { method: 'POST' });
    expect(await w.p.temporal.workflow.getHandle(`dunning/${inv.id}`).result()).toEqual({ outcome: 'paid' });
    await new Promise((r) => setTimeout(r, 2000));
    // Paid, and still stopped: KYC holds it.
    expect(await w.vm(s.vmid)).toMatchObject({ status: 'stopped', stops: 1, starts: 0 });
    expect(await subscription(s.portal, s.subscriptionId)).toMatchObject({ suspended: true, suspensionReasons: ['kyc'] });
    // The overdue hold is lifted, its service not brought back (another reason holds it).
    expect((await holds(s.subscriptionId)).find((h) => h.reason === 'overdue')).toMatchObject({ restoredAt: null, liftedBy: expect.any(String) });

    // Verified again: the kyc hold goes, the VM runs again, once.
    await verify(s.customerId, s.portal);
    await until('the kyc hold restored', async () => (await holds(s.subscriptionId)).find((h) => h.reason === 'kyc')?.state === 'restored', 60_000);
    expect(await w.vm(s.vmid)).toMatchObject({ status: 'running', stops: 1, starts: 1 });
    expect(await subscription(s.portal, s.subscriptionId)).toMatchObject({ suspended: false, suspensionReasons: [] });
    expect((await kycCase(s.portal, s.customerId)).history.map((h) => h.event)).toEqual(['opened', 'submitted', 'in_review', 'approved', 'services_released']);

    // The withdrawal emailed the customer once, with its reason.
    const withdrawn = (m: { to: string[]; subject: string }) => m.to.includes(s.email) && m.subject === 'Your identity verification was withdrawn';
    await w.smtp.waitFor((ms) => ms.some(withdrawn), 30_000).catch(async () => {
      const rows = await w.p.db.select({ key: outboundEmails.key, status: outboundEmails.status, to: outboundEmails.to, lastError: outboundEmails.lastError }).from(outboundEmails).where(eq(outboundEmails.tenantId, w.tenantId));
      throw new Error(`no withdrawal email to ${s.email}; received: ${JSON.stringify(w.smtp.messages.map((m) => [m.to, m.subject]))}; recorded: ${JSON.stringify(rows)}`);
    });
    await new Promise((r) => setTimeout(r, 1000));
    const sent = w.smtp.messages.filter(withdrawn);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.text).toContain('the passport was reported stolen');
    expect(sent[0]!.messageId).toMatch(/^<.+@.+>$/);
  });
});
