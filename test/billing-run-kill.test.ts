import { WorkflowId, billingScheduleId } from '@keelson/common/constants';
import { invoices, outboundEmails, subscriptions } from '@keelson/db/schema';
import { and, eq, isNotNull, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type SignedIn, type TestPlatform } from './platform';
import { expectOncePerMessageId, startSmtpReceiver, type SmtpReceiver } from './smtp';
import { until, workerProcesses } from './worker-process';

/**
 * The billing run triggered ten times at once while the worker process is SIGKILLed twice: every
 * due subscription gets exactly one invoice, the numbers are gapless and unique, and each invoice
 * email reaches the SMTP receiver exactly once.
 */
describe('the billing run under concurrent triggers and worker kills', () => {
  let p: TestPlatform;
  let smtp: SmtpReceiver;
  let billing: SignedIn;
  const workers = workerProcesses(() => p);
  const SUBSCRIPTIONS = 12;

  beforeAll(async () => {
    p = await createTestPlatform();
    smtp = await startSmtpReceiver();
    const tenantId = (await p.createTenant()).id;
    billing = await p.signIn({ tenantId, role: 'billing' });
    const owner = await p.signIn({ tenantId, role: 'owner' });
    const ok = async (res: Promise<Response>, status = 200) => {
      const r = await res;
      if (r.status !== status) throw new Error(`${r.status}: ${await r.text()}`);
      return (await r.json()) as { id: string };
    };
    await ok(p.request('/api/mail/smtp', { method: 'PUT', headers: owner.headers, body: { host: '127.0.0.1', port: smtp.port, security: 'none', fromAddress: 'billing@hoster.test' } }));
    await ok(p.request('/api/billing/settings', { method: 'PUT', headers: billing.headers, body: { legalName: 'Hoster Ltd', address: { line1: '1 Quay', postalCode: 'D01', city: 'Dublin', country: 'IE' } } }));
    const product = await ok(p.request('/api/catalog/products', { headers: billing.headers, body: { name: 'Hosting' } }), 201);
    const plan = await ok(p.request(`/api/catalog/products/${product.id}/plans`, { headers: billing.headers, body: { name: 'Basic', currency: 'EUR', prices: [{ cycle: 'monthly', amountMinor: 500 }], provisioning: { kind: 'service' } } }), 201);
    const zones = ['Etc/GMT+12', 'Pacific/Kiritimati', 'America/Santiago', 'Europe/Dublin'];
    for (let i = 0; i < SUBSCRIPTIONS; i++) {
      const customer = await ok(
        p.request('/api/customers', {
          headers: billing.headers,
          body: { kind: 'individual', name: `Customer ${i}`, address: { line1: `${i} Main St`, postalCode: 'D02', city: 'Dublin', country: 'IE' }, currency: 'EUR', timeZone: zones[i % zones.length], contacts: [{ name: `Customer ${i}`, email: `c${i}@customers.test` }] },
        }),
        201,
      );
      // Started two days ago: the first period is due now in every zone.
      await ok(p.request('/api/subscriptions', { headers: billing.headers, body: { customerId: customer.id, planId: plan.id, cycle: 'monthly', startAt: new Date(Date.now() - 2 * 86_400_000).toISOString() } }), 201);
    }
  });
  afterAll(async () => {
    await workers.killAll();
    await p?.temporal.schedule.getHandle(billingScheduleId(billing.tenantId)).delete().catch(() => undefined);
    await p?.close();
    await smtp?.close();
  });

  const count = async (where: ReturnType<typeof sql> | ReturnType<typeof and>) => (await p.db.select({ n: sql<number>`count(*)::int` }).from(invoices).where(where))[0]!.n;
  const tenant = () => eq(invoices.tenantId, billing.tenantId);

  it('invoices every due subscription exactly once, numbers gapless, each email received once', { timeout: 480_000 }, async () => {
    let worker = await workers.start({});
    const triggers = await Promise.all(Array.from({ length: 10 }, () => p.request('/api/billing/schedule/trigger', { method: 'POST', headers: billing.headers })));
    expect(triggers.map((r) => r.status)).toEqual(Array(10).fill(200));

    // First kill: as soon as invoices are being drafted.
    await until('a first invoice', async () => (await count(tenant())) > 0, 90_000);
    await workers.kill(worker);
    worker = await workers.start({});
    // Second kill: part way through numbering and sending.
    await until('some invoices finalized', async () => (await count(and(tenant(), isNotNull(invoices.number)))) >= 3, 90_000);
    await workers.kill(worker);
    worker = await workers.start({});

    await until(
      'every invoice emailed',
      async () => {
        const [sent] = await p.db.select({ n: sql<number>`count(*)::int` }).from(outboundEmails).where(and(eq(outboundEmails.tenantId, billing.tenantId), eq(outboundEmails.kind, 'invoice'), eq(outboundEmails.status, 'sent')));
        return sent!.n >= SUBSCRIPTIONS;
      },
      200_000,
    );
    // Let every run that was triggered finish, so a late duplicate would have had its chance
    // (the invoices' dunning ladders wait for their due dates and are not part of it).
    await until(
      'the billing runs to finish',
      async () => {
        let open = 0;
        for await (const _ of p.temporal.workflow.list({ query: `KeelsonTenant = '${billing.tenantId}' AND ExecutionStatus = 'Running' AND KeelsonOperation != 'billing.dunning'` })) open++;
        return open === 0;
      },
      120_000,
    );

    // Exactly one invoice per due subscription, checked in SQL.
    const perSubscription = (await p.db.execute(sql`select subscription_id, count(*)::int as n from ${invoices} where tenant_id = ${billing.tenantId} group by subscription_id`)).rows as Array<{ n: number }>;
    expect(perSubscription).toHaveLength(SUBSCRIPTIONS);
    expect(perSubscription.every((r) => r.n === 1)).toBe(true);
    // Numbers: gapless and unique in their series.
    const [numbers] = (await p.db.execute(sql`select count(*)::int as n, count(distinct number)::int as distinct, min(sequence)::int as min, max(sequence)::int as max, count(distinct series)::int as series from ${invoices} where tenant_id = ${billing.tenantId} and status = 'finalized'`)).rows as Array<Record<string, number>>;
    expect(numbers).toEqual({ n: SUBSCRIPTIONS, distinct: SUBSCRIPTIONS, min: 1, max: SUBSCRIPTIONS, series: 1 });
    // Every subscription moved exactly one period on.
    const moved = await p.db.select({ index: subscriptions.nextPeriodIndex }).from(subscriptions).where(eq(subscriptions.tenantId, billing.tenantId));
    expect(moved.map((m) => m.index)).toEqual(Array(SUBSCRIPTIONS).fill(1));

    // Each invoice's email arrived as one message, with its own Message-ID and its PDF (a copy
    // only after a kill: see expectOncePerMessageId).
    const sentRows = await p.db.select({ messageId: outboundEmails.messageId, key: outboundEmails.key, subject: outboundEmails.subject }).from(outboundEmails).where(and(eq(outboundEmails.tenantId, billing.tenantId), eq(outboundEmails.kind, 'invoice')));
    expect(sentRows).toHaveLength(SUBSCRIPTIONS);
    const received = expectOncePerMessageId(smtp.messages.filter((m) => m.subject.startsWith('Invoice ')), sentRows, 2);
    expect(received.every((m) => m.attachments.length === 1 && m.attachments[0]!.contentType === 'application/pdf')).toBe(true);

    // Each subscription's period had its own child run, named by its business key.
    const [one] = await p.db.select({ subscriptionId: invoices.subscriptionId, periodStart: invoices.periodStart }).from(invoices).where(tenant()).limit(1);
    const child = await p.temporal.workflow.getHandle(WorkflowId.invoicePeriod(one!.subscriptionId!, one!.periodStart!.toISOString())).describe();
    expect(child.status.name).toBe('COMPLETED');
    await workers.kill(worker);
  });
});
