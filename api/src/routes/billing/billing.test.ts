import { billingScheduleId, SubscriptionUpdate, WorkflowId } from '@keelson/common/constants';
import { invoices, outboundEmails, subscriptionChanges } from '@keelson/db/schema';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../../../test/platform';
import { startSmtpReceiver, type SmtpReceiver } from '../../../../test/smtp';
import { waitForRun } from '../../../../test/runs';
import { until } from '../../../../test/worker-process';
import { PlacedOrderSchema } from '../orders/schema';
import { CreditedSchema, CreditNoteSchema, InvoiceListSchema, InvoiceSchema, PlanChangeSchema, ScheduleSchema, SubscriptionSchema } from './schema';

const ErrorSchema = z.object({ code: z.string(), message: z.string(), requestId: z.string(), details: z.unknown().optional() });
const pdfText = (pdf: Buffer) => execFileSync('pdftotext', ['-layout', '-', '-'], { input: pdf }).toString();

/**
 * Billing end to end on a moving clock: subscriptions of two customers (a German individual with
 * a name beyond Latin-1, an Austrian company with a valid VAT id) invoiced by billing runs a month
 * apart; numbers, taxes, reverse charge, PDFs (read back with pdftotext), one email each with the
 * PDF attached; void and credit notes; what customer users and operators may see and do.
 */
describe('billing: subscriptions, invoices, credit notes', () => {
  let p: TestPlatform;
  let smtp: SmtpReceiver;
  let owner: SignedIn;
  let billing: SignedIn;
  let operator: SignedIn;
  let portal: SignedIn;
  let otherOwner: SignedIn;
  let now = new Date('2027-01-31T10:00:00Z');
  let person: string;
  let company: string;
  let planId: string;

  beforeAll(async () => {
    p = await createTestPlatform();
    smtp = await startSmtpReceiver();
    await p.startCoreWorker({ billing: { now: () => now } });
    // The API reads the same clock (subscription starts, cancellations, an order's anchor).
    p.deps.now = () => now;
    const tenant = await p.createTenant();
    owner = await p.signIn({ tenantId: tenant.id, role: 'owner' });
    billing = await p.signIn({ tenantId: tenant.id, role: 'billing' });
    operator = await p.signIn({ tenantId: tenant.id, role: 'operator' });
    portal = await p.signIn({ tenantId: tenant.id, role: 'customer' });
    otherOwner = await p.signIn({ tenantId: (await p.createTenant()).id, role: 'owner' });

    const ok = async (res: Response | Promise<Response>, status = 200) => {
      const r = await res;
      if (r.status !== status) throw new Error(`${r.status}: ${await r.text()}`);
      return (await r.json()) as { id: string };
    };
    await ok(p.request('/api/mail/smtp', { method: 'PUT', headers: owner.headers, body: { host: '127.0.0.1', port: smtp.port, security: 'none', fromAddress: 'billing@hoster.test' } }));
    await ok(
      p.request('/api/billing/settings', {
        method: 'PUT',
        headers: billing.headers,
        body: { legalName: 'Hoster GmbH', address: { line1: 'Torstraße 1', postalCode: '10119', city: 'Berlin', country: 'DE' }, taxId: 'DE123456789', paymentTermsDays: 14, runHour: 3, runTimeZone: 'Europe/Berlin' },
      }),
    );
    await ok(p.request('/api/billing/tax-rules', { headers: billing.headers, body: { country: 'DE', name: 'USt 19 %', rateBp: 1900 } }), 201);
    await ok(p.request('/api/billing/tax-rules', { headers: billing.headers, body: { country: 'AT', name: 'EU B2B', rateBp: 2000, reverseCharge: true } }), 201);
    const customer = (name: string, email: string, extra: object) =>
      ok(p.request('/api/customers', { headers: billing.headers, body: { currency: 'EUR', timeZone: 'Europe/Berlin', contacts: [{ name, email }], name, ...extra } }), 201);
    person = (await customer('Łukasz Żółć', 'lukasz@customer.test', { kind: 'individual', address: { line1: 'Świętokrzyska 1', postalCode: '10115', city: 'Berlin', country: 'DE' } })).id;
    company = (await customer('Alpen Hosting GmbH', 'accounts@alpen.test', { kind: 'company', address: { line1: 'Ring 1', postalCode: '1010', city: 'Wien', country: 'AT' }, taxId: 'ATU12345678' })).id;
    await ok(p.request(`/api/customers/${person}/users`, { headers: owner.headers, body: { userId: portal.userId } }));
    const product = await ok(p.request('/api/catalog/products', { headers: billing.headers, body: { name: 'VPS' } }), 201);
    planId = (await ok(p.request(`/api/catalog/products/${product.id}/plans`, { headers: billing.headers, body: { name: 'S', currency: 'EUR', prices: [{ cycle: 'monthly', amountMinor: 1000 }], provisioning: { kind: 'service' } } }), 201)).id;
  });
  afterAll(async () => {
    await p?.temporal.schedule.getHandle(billingScheduleId(owner.tenantId)).delete().catch(() => undefined);
    await p?.close();
    await smtp?.close();
  });

  const subscribe = async (customerId: string) => {
    const res = await p.request('/api/subscriptions', { headers: billing.headers, body: { customerId, planId, cycle: 'monthly', startAt: '2027-01-31T09:00:00Z' } });
    expect(res.status).toBe(201);
    return SubscriptionSchema.strict().parse(await res.json());
  };
  const listInvoices = async (who: SignedIn, query = '') => InvoiceListSchema.parse(await (await p.request(`/api/invoices${query}`, { headers: who.headers })).json()).items;
  const invoice = async (who: SignedIn, id: string) => InvoiceSchema.strict().parse(await (await p.request(`/api/invoices/${id}`, { headers: who.headers })).json());
  const pdf = async (who: SignedIn, id: string, kind = 'invoices') => {
    const res = await p.request(`/api/${kind}/${id}/pdf`, { headers: who.headers });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    return Buffer.from(await res.arrayBuffer());
  };
  const trigger = async () => {
    // The Schedule skips a trigger while its last run still goes (overlap: skip), and a test may
    // have seen what it waited for before that run ended: let it end first.
    await until('the last billing run to end', async () => {
      const running = await p.temporal.workflow.count(`KeelsonTenant = '${owner.tenantId}' AND KeelsonOperation = 'billing.run' AND ExecutionStatus = 'Running'`);
      return running.count === 0;
    }, 60_000);
    const res = await p.request('/api/billing/schedule/trigger', { method: 'POST', headers: billing.headers });
    expect(res.status).toBe(200);
    return ScheduleSchema.parse(await res.json());
  };
  const emailed = (count: number) =>
    until(`${count} invoice emails`, async () => {
      const rows = await p.db.select().from(outboundEmails).where(and(eq(outboundEmails.tenantId, owner.tenantId), eq(outboundEmails.status, 'sent'), eq(outboundEmails.kind, 'invoice')));
      return rows.length >= count && rows;
    }, 90_000);

  it('invoices each period once in the customer’s zone, taxed by country, numbered gaplessly, with a PDF emailed once', { timeout: 240_000 }, async () => {
    const s1 = await subscribe(person);
    await subscribe(company);
    expect(s1).toMatchObject({ status: 'active', anchorDate: '2027-01-31', unitPriceMinor: 1000, currency: 'EUR', nextPeriodStart: '2027-01-30T23:00:00.000Z' });

    const schedule = await trigger();
    expect(schedule).toMatchObject({ exists: true, paused: false, runHour: 3, timeZone: 'Europe/Berlin' });
    await emailed(2);
    const first = (await listInvoices(billing)).sort((a, b) => a.number!.localeCompare(b.number!));
    expect(first.map((i) => [i.customerId, i.status, i.number])).toEqual(
      expect.arrayContaining([
        [person, 'finalized', expect.stringMatching(/^INV-2027-00000[12]$/)],
        [company, 'finalized', expect.stringMatching(/^INV-2027-00000[12]$/)],
      ]),
    );
    expect(first.map((i) => i.number)).toEqual(['INV-2027-000001', 'INV-2027-000002']);

    // Germany: 19 % on 10.00; Austria, a company with a valid VAT id: reverse charge, no tax.
    const personInvoice = await invoice(billing, first.find((i) => i.customerId === person)!.id);
    expect(personInvoice).toMatchObject({ subtotalMinor: 1000, taxMinor: 190, totalMinor: 1190, reverseCharge: false, periodStart: '2027-01-30T23:00:00.000Z', periodEnd: '2027-02-27T23:00:00.000Z', dueAt: '2027-02-14T10:00:00.000Z' });
    expect(personInvoice.customer).toMatchObject({ name: 'Łukasz Żółć', email: 'lukasz@customer.test' });
    const companyInvoice = await invoice(billing, first.find((i) => i.customerId === company)!.id);
    expect(companyInvoice).toMatchObject({ subtotalMinor: 1000, taxMinor: 0, totalMinor: 1000, reverseCharge: true });

    const text = pdfText(await pdf(billing, personInvoice.id));
    for (const expected of ['Invoice', personInvoice.number!, 'Łukasz Żółć', 'Świętokrzyska 1', 'Hoster GmbH', 'EUR 11.90', '19 %', '2027-01-31 – 2027-02-27', 'Due: 2027-02-14']) expect(text).toContain(expected);
    expect(pdfText(await pdf(billing, companyInvoice.id))).toContain('Reverse charge');

    // One email per invoice, with its PDF, at the billing contact; its Message-ID is the recorded one.
    for (const inv of [personInvoice, companyInvoice]) {
      const [email] = (await invoice(billing, inv.id)).emails;
      expect(email).toMatchObject({ kind: 'invoice', status: 'sent' });
      const got = await smtp.waitForMessage((m) => m.messageId === email!.messageId);
      expect(got.subject).toBe(`Invoice ${inv.number} from Hoster GmbH`);
      expect(got.attachments).toHaveLength(1);
      expect(got.attachments[0]!.filename).toBe(`${inv.number}.pdf`);
      expect(pdfText(got.attachments[0]!.content)).toContain(inv.number!);
    }

    // A second run the same day finds nothing due: still two invoices, two emails.
    await trigger();
    await until('the second run to finish', async () => {
      const runs = await p.temporal.workflow.list({ query: `KeelsonTenant = '${owner.tenantId}' AND KeelsonOperation = 'billing.run' AND ExecutionStatus = 'Completed'` });
      let n = 0;
      for await (const _ of runs) n++;
      return n >= 2;
    }, 60_000);
    expect(await listInvoices(billing)).toHaveLength(2);

    // A month later (the clock moves): the next period starts Feb 28 local, then Mar 31 — the month-end anchor holds.
    now = new Date('2027-02-28T10:00:00Z');
    await trigger();
    await emailed(4);
    now = new Date('2027-03-31T10:00:00Z');
    await trigger();
    await emailed(6);
    const periods = (await listInvoices(billing, `?subscriptionId=${s1.id}`)).map((i) => i.periodStart).sort();
    expect(periods).toEqual(['2027-01-30T23:00:00.000Z', '2027-02-27T23:00:00.000Z', '2027-03-30T22:00:00.000Z']);
    const counted = (await p.db.execute(sql`select count(*)::int as n, max(sequence)::int as max from ${invoices} where tenant_id = ${owner.tenantId} and series = 'INV-2027'`)).rows[0];
    expect(counted).toEqual({ n: 6, max: 6 });
    expect(smtp.messages.filter((m) => m.subject.startsWith('Invoice '))).toHaveLength(6);
  });

  it('voids and credits invoices in their own series; customers see their own; operators read but change nothing', { timeout: 120_000 }, async () => {
    const [latest, ...rest] = await listInvoices(billing, `?customerId=${person}`);
    const older = rest[0]!;
    // Operators read money but do not change it; customer users read their own only.
    expect((await p.request(`/api/invoices/${latest!.id}`, { headers: operator.headers })).status).toBe(200);
    expect((await p.request(`/api/invoices/${latest!.id}/void`, { headers: operator.headers, body: { reason: 'x' } })).status).toBe(403);
    expect((await listInvoices(portal)).every((i) => i.customerId === person)).toBe(true);
    expect((await listInvoices(portal)).length).toBe(3);
    const theirs = (await listInvoices(billing, `?customerId=${company}`))[0]!;
    expect((await p.request(`/api/invoices/${theirs.id}`, { headers: portal.headers })).status).toBe(404);
    expect((await p.request(`/api/invoices/${theirs.id}/pdf`, { headers: portal.headers })).status).toBe(404);
    expect((await p.request(`/api/invoices/${latest!.id}`, { headers: otherOwner.headers })).status).toBe(404);
    expect(pdfText(await pdf(portal, latest!.id))).toContain(latest!.number!);
    expect((await p.request('/api/billing/settings', { headers: portal.headers })).status).toBe(403);
    expect((await p.request(`/api/subscriptions?customerId=${company}`, { headers: portal.headers }).then((r) => r.json())) as { items: unknown[] }).toMatchObject({ items: [] });

    const voided = await p.request(`/api/invoices/${latest!.id}/void`, { headers: billing.headers, body: { reason: 'sold by mistake' } });
    expect(voided.status).toBe(200);
    expect(InvoiceSchema.parse(await voided.json())).toMatchObject({ status: 'void', voidReason: 'sold by mistake', number: latest!.number });
    expect((await p.request(`/api/invoices/${latest!.id}/void`, { headers: billing.headers, body: { reason: 'again' } })).status).toBe(409);

    // A partial credit, then the rest; more is refused. Credit notes issued through the API are
    // dated today (the worker's clock is the one that moved), in their own series.
    const cn = `CN-${new Date().getUTCFullYear()}`;
    const part = await p.request(`/api/invoices/${older.id}/credit-notes`, { headers: billing.headers, body: { reason: 'downtime', lines: [{ description: 'Outage credit', quantity: 1, unitPriceMinor: 400 }] } });
    expect(part.status).toBe(201);
    const credited = CreditedSchema.parse(await part.json());
    expect(credited.creditNote).toMatchObject({ number: `${cn}-000001`, invoiceNumber: older.number, subtotalMinor: 400, taxMinor: 76, totalMinor: 476 });
    const rest2 = CreditedSchema.parse(await (await p.request(`/api/invoices/${older.id}/credit-notes`, { headers: billing.headers, body: { reason: 'cancelled' } })).json());
    expect(rest2.creditNote).toMatchObject({ number: `${cn}-000002`, totalMinor: 1190 - 476 });
    const more = await p.request(`/api/invoices/${older.id}/credit-notes`, { headers: billing.headers, body: { reason: 'again' } });
    expect(more.status).toBe(409);
    expect(ErrorSchema.parse(await more.json()).message).toContain('nothing left to credit');
    const tooMuch = await p.request(`/api/invoices/${rest[1]!.id}/credit-notes`, { headers: billing.headers, body: { reason: 'x', lines: [{ description: 'too much', quantity: 1, unitPriceMinor: 5000 }] } });
    expect(tooMuch.status).toBe(400);
    expect(ErrorSchema.parse(await tooMuch.json()).message).toContain('exceeds');

    // The credit note's PDF names the invoice, and it is emailed once.
    const cnText = pdfText(await pdf(billing, credited.creditNote.id, 'credit-notes'));
    expect(cnText).toContain('Credit note');
    expect(cnText).toContain(`Credits invoice ${older.number}`);
    const cnEmail = await smtp.waitForMessage((m) => m.subject.startsWith(`Credit note ${cn}-000001`), 60_000);
    expect(pdfText(cnEmail.attachments[0]!.content)).toContain(`${cn}-000001`);
    expect((await invoice(portal, older.id)).creditNotes.map((c) => c.number)).toEqual([`${cn}-000001`, `${cn}-000002`]);
  });

  it('cancels at period end: the next run ends the subscription instead of invoicing it', { timeout: 120_000 }, async () => {
    const { items } = (await (await p.request(`/api/subscriptions?customerId=${company}`, { headers: billing.headers })).json()) as { items: Array<{ id: string }> };
    const res = await p.request(`/api/subscriptions/${items[0]!.id}/cancel`, { headers: billing.headers, body: { when: 'period_end' } });
    expect(res.status).toBe(200);
    const ending = SubscriptionSchema.parse(await res.json());
    expect(ending).toMatchObject({ status: 'active', cancelAtPeriodEnd: true, endsAt: ending.currentPeriodEnd });
    now = new Date('2027-04-30T10:00:00Z');
    await trigger();
    await until('the subscription to end', async () => {
      const s = SubscriptionSchema.parse(await (await p.request(`/api/subscriptions/${ending.id}`, { headers: billing.headers })).json());
      return s.status === 'cancelled' && s;
    }, 60_000);
    expect((await listInvoices(billing, `?subscriptionId=${ending.id}`)).length).toBe(3);
    for (const [body, field] of [
      [{ customerId: person, planId, cycle: 'weekly' }, 'cycle'],
      [{ customerId: person, planId, cycle: 'yearly' }, 'not sold yearly'],
      [{ customerId: person, planId: person, cycle: 'monthly' }, 'plan'],
    ] as const) {
      const bad = await p.request('/api/subscriptions', { headers: billing.headers, body });
      expect([400, 404]).toContain(bad.status);
      expect(ErrorSchema.parse(await bad.json()).message).toContain(field);
    }
  });

  it('changes plan mid-period through an Update of the subscription’s run: prorated in the customer’s zone from a month-end anchor, invoiced or credited once', { timeout: 180_000 }, async () => {
    const ok = async <T>(res: Promise<Response>, schema: z.ZodType<T>, status = 200) => {
      const r = await res;
      const body = await r.text();
      if (r.status !== status) throw new Error(`${r.status}: ${body}`);
      return schema.parse(JSON.parse(body));
    };
    const Id = z.object({ id: z.string() });
    const product = await ok(p.request('/api/catalog/products', { headers: billing.headers, body: { name: 'VPS Plus' } }), Id, 201);
    const plan = (name: string, currency: string, amountMinor: number) =>
      ok(p.request(`/api/catalog/products/${product.id}/plans`, { headers: billing.headers, body: { name, currency, prices: [{ cycle: 'monthly', amountMinor }], provisioning: { kind: 'service' } } }), Id, 201);
    const large = (await plan('L', 'EUR', 3000)).id;
    const dollars = (await plan('L-USD', 'USD', 3000)).id;

    // Anchored on May 31 (Berlin): periods May 31 → Jun 30 → Jul 31, the month end kept.
    now = new Date('2027-06-30T10:00:00Z');
    const sub = await ok(p.request('/api/subscriptions', { headers: billing.headers, body: { customerId: person, planId, cycle: 'monthly', startAt: '2027-05-31T08:00:00Z' } }), SubscriptionSchema, 201);
    await trigger();
    const invoiced = await until('two periods invoiced', async () => {
      const s = await ok(p.request(`/api/subscriptions/${sub.id}`, { headers: billing.headers }), SubscriptionSchema);
      return s.nextPeriodStart === '2027-07-30T22:00:00.000Z' && s;
    }, 90_000);
    expect(invoiced).toMatchObject({ currentPeriodStart: '2027-06-29T22:00:00.000Z', currentPeriodEnd: '2027-07-30T22:00:00.000Z' });
    const periodInvoice = await until('the period invoice', async () => (await listInvoices(billing, `?subscriptionId=${sub.id}`)).find((i) => i.periodStart === invoiced.currentPeriodStart && i.status === 'finalized'), 60_000);

    const change = (who: SignedIn, id: string, body: object) => p.request(`/api/subscriptions/${id}/change-plan`, { headers: who.headers, body });
    const refused = async (res: Promise<Response>, status: number, message?: RegExp) => {
      const r = await res;
      expect(r.status).toBe(status);
      if (message) expect(ErrorSchema.parse(await r.json()).message).toMatch(message);
    };
    await refused(change(billing, sub.id, { planId }), 400, /planId: the subscription is already on this plan/);
    await refused(change(billing, sub.id, { planId: dollars }), 400, /planId: the plan is priced in USD; the subscription is billed in EUR/);
    await refused(change(billing, sub.id, { planId: 'nope' }), 400, /planId/);
    const { items: cancelled } = z.object({ items: z.array(SubscriptionSchema) }).parse(await (await p.request(`/api/subscriptions?customerId=${company}&status=cancelled`, { headers: billing.headers })).json());
    await refused(change(billing, cancelled[0]!.id, { planId: large }), 400, /the subscription is cancelled/);
    await refused(change(operator, sub.id, { planId: large }), 403);
    await refused(change(portal, sub.id, { planId: large }), 403);
    await refused(change(otherOwner, sub.id, { planId: large }), 404);

    // Upgrade on Jul 16, 00:00 Berlin: 15 of the period's 31 days left.
    now = new Date('2027-07-15T22:00:00Z');
    const requestId = randomUUID();
    const up = await ok(change(billing, sub.id, { planId: large, requestId }), PlanChangeSchema);
    expect(up).toMatchObject({
      fromPlanId: planId,
      toPlanId: large,
      timeZone: 'Europe/Berlin',
      effectiveAt: '2027-07-15T22:00:00.000Z',
      periodStart: '2027-06-29T22:00:00.000Z',
      periodEnd: '2027-07-30T22:00:00.000Z',
      creditMinor: 484, // 1000 × 360 h / 744 h = 483.87
      chargeMinor: 1452, // 3000 × 360 h / 744 h = 1451.61
      netMinor: 968,
      creditNoteId: null,
    });
    const adjustment = await until('the adjustment invoice emailed', async () => {
      const i = await invoice(billing, up.invoiceId!);
      return i.emails.some((e) => e.status === 'sent') && i;
    }, 60_000);
    expect(adjustment).toMatchObject({ status: 'finalized', subscriptionId: sub.id, subtotalMinor: 968, taxMinor: -92 + 276, totalMinor: 1152 });
    expect(adjustment.lines.map((l) => [l.kind, l.unitPriceMinor])).toEqual([
      ['proration', -484],
      ['proration', 1452],
    ]);
    expect(adjustment.lines[0]!.description).toMatch(/2027-07-16 – 2027-07-30/);
    await smtp.waitForMessage((m) => m.subject.startsWith(`Invoice ${adjustment.number} `), 60_000);
    // The same request again is the same change: no second invoice.
    expect(await ok(change(billing, sub.id, { planId: large, requestId }), PlanChangeSchema)).toEqual(up);
    expect((await listInvoices(billing, `?subscriptionId=${sub.id}`)).filter((i) => i.periodStart === null)).toHaveLength(1);
    expect(await ok(p.request(`/api/subscriptions/${sub.id}`, { headers: billing.headers }), SubscriptionSchema)).toMatchObject({ planId: large, unitPriceMinor: 3000 });

    // The run's validator refuses a bad change itself, before anything is written.
    const run = p.temporal.workflow.getHandle(WorkflowId.subscription(sub.id));
    const rejected = await run.executeUpdate(SubscriptionUpdate.changePlan, { args: [{ planId: large, currency: 'EUR', provisions: 'service', requestId: randomUUID() }] }).catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((rejected as WorkflowUpdateFailedError).cause?.message).toMatch(/already on this plan/);
    expect(await p.db.select().from(subscriptionChanges).where(eq(subscriptionChanges.subscriptionId, sub.id))).toHaveLength(1);

    // Downgrade on Jul 23: 8 days left; the net is negative, so a credit note against the period's invoice.
    now = new Date('2027-07-22T22:00:00Z');
    const down = await ok(change(billing, sub.id, { planId }), PlanChangeSchema);
    expect(down).toMatchObject({ creditMinor: 774, chargeMinor: 258, netMinor: -516, invoiceId: null }); // 3000 and 1000 × 192 h / 744 h
    const note = CreditNoteSchema.parse(await (await p.request(`/api/credit-notes/${down.creditNoteId}`, { headers: billing.headers })).json());
    expect(note).toMatchObject({ invoiceId: periodInvoice.id, subtotalMinor: 516, taxMinor: 98, totalMinor: 614 });
    await smtp.waitForMessage((m) => m.subject.startsWith(`Credit note ${note.number} `), 60_000);
    // The run would wait out its quiet time on a server that outlives this file's worker.
    await run.terminate('test done');
  });

  it('a plan with a trial: the order invoices the setup fee at once, the billing run the plan only once the trial is over', { timeout: 120_000 }, async () => {
    const json = async (res: Promise<Response>, status = 200) => {
      const r = await res;
      const body = await r.text();
      if (r.status !== status) throw new Error(`${r.status}: ${body}`);
      return JSON.parse(body) as { id: string };
    };
    const product = await json(p.request('/api/catalog/products', { headers: billing.headers, body: { name: 'Trial VPS' } }), 201);
    const trialPlan = await json(
      p.request(`/api/catalog/products/${product.id}/plans`, { headers: billing.headers, body: { name: 'T', currency: 'EUR', prices: [{ cycle: 'monthly', amountMinor: 2000 }], setupFeeMinor: 500, trialDays: 14, provisioning: { kind: 'service' } } }),
      201,
    );
    now = new Date('2027-08-01T10:00:00Z');
    const placed = PlacedOrderSchema.parse(await json(p.request('/api/orders', { headers: billing.headers, body: { customerId: person, planId: trialPlan.id, cycle: 'monthly' } }), 202));
    expect(await waitForRun(p, placed.run.workflowId)).toBe('COMPLETED');
    const order = (await json(p.request(`/api/orders/${placed.order.id}`, { headers: billing.headers }))) as unknown as { invoiceId: string; subscriptionId: string };

    // At order time: the setup fee alone (19 % German tax), numbered.
    const setup = await invoice(billing, order.invoiceId);
    expect(setup).toMatchObject({ status: 'finalized', subtotalMinor: 500, totalMinor: 595, periodStart: null });
    expect(setup.lines.map((l) => [l.kind, l.unitPriceMinor])).toEqual([['setup', 500]]);
    // The first paid period starts when the 14 days are over, on that day in Berlin.
    const sub = SubscriptionSchema.parse(await (await p.request(`/api/subscriptions/${order.subscriptionId}`, { headers: billing.headers })).json());
    expect(sub).toMatchObject({ status: 'trialing', trialEndsAt: '2027-08-15T10:00:00.000Z', anchorDate: '2027-08-15', nextPeriodStart: '2027-08-14T22:00:00.000Z' });

    // A run during the trial invoices nothing of it and leaves it trialing; the run after it ends
    // the trial (the subscription is active) and invoices the plan's first period.
    const subscription = async () => SubscriptionSchema.parse(await (await p.request(`/api/subscriptions/${sub.id}`, { headers: billing.headers })).json());
    const completedRuns = async () => (await p.temporal.workflow.count(`KeelsonTenant = '${owner.tenantId}' AND KeelsonOperation = 'billing.run' AND ExecutionStatus = 'Completed'`)).count;
    const before = await completedRuns();
    now = new Date('2027-08-10T10:00:00Z');
    await trigger();
    await until('the run during the trial', async () => (await completedRuns()) > before, 60_000);
    expect((await subscription()).status).toBe('trialing');
    now = new Date('2027-08-15T10:00:00Z');
    await trigger();
    const first = await until('the first period invoiced', async () => (await listInvoices(billing, `?subscriptionId=${sub.id}`)).find((i) => i.periodStart !== null && i.status === 'finalized'), 90_000);
    expect((await subscription()).status).toBe('active');
    expect(first).toMatchObject({ periodStart: '2027-08-14T22:00:00.000Z', periodEnd: '2027-09-14T22:00:00.000Z', subtotalMinor: 2000 });
    expect((await invoice(billing, first.id)).lines.map((l) => l.kind)).toEqual(['plan']);
    expect((await listInvoices(billing, `?subscriptionId=${sub.id}`)).map((i) => i.id).sort()).toEqual([setup.id, first.id].sort());

    // Cancelled now, it ends at once and invoices nothing more; cancelling again is a conflict.
    const cancel = () => p.request(`/api/subscriptions/${sub.id}/cancel`, { headers: billing.headers, body: { when: 'now' } });
    const ended = SubscriptionSchema.parse(await (await cancel()).json());
    expect(ended).toMatchObject({ status: 'cancelled', cancelAtPeriodEnd: false });
    // At the clock's "now", not the machine's.
    expect(ended.endsAt).toBe('2027-08-15T10:00:00.000Z');
    expect(ended.endsAt).toBe(ended.cancelledAt);
    expect((await cancel()).status).toBe(409);
    now = new Date('2027-09-15T10:00:00Z');
    await trigger();
    await until('the run after the cancellation', async () => {
      const runs = await p.temporal.workflow.count(`KeelsonTenant = '${owner.tenantId}' AND KeelsonOperation = 'billing.run' AND ExecutionStatus = 'Running'`);
      return runs.count === 0;
    }, 60_000);
    expect(await listInvoices(billing, `?subscriptionId=${sub.id}`)).toHaveLength(2);
  });
  it('an order made at the clock\'s "now" anchors its subscription on that day: its first invoice is that period, nothing before it', { timeout: 120_000 }, async () => {
    now = new Date('2027-10-20T10:00:00Z');
    const res = await p.request('/api/orders', { headers: billing.headers, body: { customerId: person, planId, cycle: 'monthly' } });
    expect(res.status).toBe(202);
    const placed = PlacedOrderSchema.parse(await res.json());
    expect(placed.order.reference).toMatch(/^O-2027-\d{4}$/);
    expect(await waitForRun(p, placed.run.workflowId)).toBe('COMPLETED');
    const order = (await (await p.request(`/api/orders/${placed.order.id}`, { headers: billing.headers })).json()) as { invoiceId: string; subscriptionId: string };
    const sub = SubscriptionSchema.parse(await (await p.request(`/api/subscriptions/${order.subscriptionId}`, { headers: billing.headers })).json());
    expect(sub).toMatchObject({ status: 'active', anchorDate: '2027-10-20', currentPeriodStart: '2027-10-19T22:00:00.000Z', nextPeriodStart: '2027-11-19T23:00:00.000Z' });
    expect(await invoice(billing, order.invoiceId)).toMatchObject({ periodStart: '2027-10-19T22:00:00.000Z', periodEnd: '2027-11-19T23:00:00.000Z' });
  });
});
