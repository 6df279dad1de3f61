import { billingScheduleId } from '@keelson/common/constants';
import { readFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCustomer, createCustomerUser, createPlan, pollUntil } from '../../test/billing-fixtures';
import type { SignedIn } from '../../test/platform';
import { startSmtpReceiver, type SmtpReceiver } from '../../test/smtp';
import { saveScreenshot, setupE2e } from './harness';

/**
 * Temporal's scheduler applies a pause or resume in its own workflow task after it answers; on a
 * busy shared server that took over 15 s once. The page refreshes every few seconds meanwhile.
 */
const SCHEDULE_APPLIED = { timeout: 60_000, interval: 500 };

interface SeededInvoice {
  id: string;
  number: string;
  customerId: string;
}

/**
 * Invoices, credit notes and the billing run in the browser, seeded through the API: a billing
 * manager reads an invoice and its PDF, credits part of it and voids it, and pauses and resumes
 * the billing Schedule (Temporal's own state checked); an operator finds no button that changes
 * money; a customer user lists only their own invoices and downloads one.
 */
describe('invoices, the billing run and the portal’s invoices', () => {
  const e2e = setupE2e();
  let smtp: SmtpReceiver;
  let tenantId: string;
  let staff: SignedIn;
  let billingUser: { email: string; password: string };
  let operatorUser: { email: string; password: string };
  let ours: { id: string; name: string };
  let theirs: { id: string; name: string };
  /** Customer `ours`: the first is credited and voided by the billing manager, the second stays open. */
  let credited: SeededInvoice;
  let open: SeededInvoice;
  /** Another customer's: never in `ours`' portal. */
  let other: SeededInvoice;
  let subscriptionId: string;
  let largerPlan: { planId: string; name: string };

  /** A draft of custom lines, finalized by its run: numbered, rendered and emailed. */
  async function issueInvoice(customerId: string, netMinor: number): Promise<SeededInvoice> {
    const draft = await e2e.api$<{ id: string }>(staff, '/api/invoices', { body: { customerId, lines: [{ description: 'Managed hosting', quantity: 1, unitPriceMinor: netMinor }] }, expect: 201 });
    await e2e.api$(staff, `/api/invoices/${draft.id}/finalize`, { method: 'POST', expect: 202 });
    const done = await pollUntil(
      () => e2e.api$<{ status: string; number: string | null; pdfReady: boolean }>(staff, `/api/invoices/${draft.id}`),
      (i) => i.status === 'finalized' && i.pdfReady,
      60_000,
    );
    expect(done).toMatchObject({ status: 'finalized', pdfReady: true });
    return { id: draft.id, number: done.number!, customerId };
  }

  beforeAll(async () => {
    smtp = await startSmtpReceiver();
    tenantId = (await e2e.p.createTenant()).id;
    const owner = await e2e.apiSession(tenantId, 'owner');
    staff = await e2e.apiSession(tenantId, 'billing');
    await e2e.api$(owner, '/api/mail/smtp', { method: 'PUT', body: { host: '127.0.0.1', port: smtp.port, security: 'none', fromAddress: 'billing@hoster.test' } });
    await e2e.api$(staff, '/api/billing/settings', {
      method: 'PUT',
      body: { legalName: 'Hoster GmbH', address: { line1: 'Torstraße 1', postalCode: '10119', city: 'Berlin', country: 'DE' }, runHour: 3, runTimeZone: 'Europe/Berlin' },
    });
    await e2e.api$(staff, '/api/billing/tax-rules', { body: { country: 'DE', name: 'USt 19 %', rateBp: 1900 }, expect: 201 });
    ours = await createCustomer(e2e.p, staff);
    theirs = await createCustomer(e2e.p, staff);
    credited = await issueInvoice(ours.id, 10_000);
    open = await issueInvoice(ours.id, 4_200);
    other = await issueInvoice(theirs.id, 7_700);
    const plan = await createPlan(e2e.p, staff, { kind: 'service' });
    subscriptionId = (await e2e.api$<{ id: string }>(staff, '/api/subscriptions', { body: { customerId: ours.id, planId: plan.planId, cycle: 'monthly' }, expect: 201 })).id;
    largerPlan = await createPlan(e2e.p, staff, { kind: 'service' }, { monthlyMinor: 3750, name: 'Larger' });
    billingUser = await e2e.createUser(tenantId, 'billing');
    operatorUser = await e2e.createUser(tenantId, 'operator');
  }, 180_000);

  afterAll(async () => {
    await e2e.p?.temporal.schedule.getHandle(billingScheduleId(tenantId)).delete().catch(() => undefined);
    await smtp?.close();
  });

  /** The bytes the signed-in browser gets at `path` (its cookies, its origin). */
  async function bytesAt(page: Page, path: string): Promise<Buffer> {
    const res = await page.request.get(e2e.url(path));
    expect(res.status(), path).toBe(200);
    expect(res.headers()['content-type']).toBe('application/pdf');
    return res.body();
  }

  /**
   * Opens an invoice's page and waits for its preview to load the PDF; returns the PDF's bytes
   * (Chromium's viewer stands in for the body of the preview's own response, so they are read again).
   */
  async function openInvoice(page: Page, invoice: SeededInvoice): Promise<Buffer> {
    const pdf = page.waitForResponse((r) => new URL(r.url()).pathname === `/api/invoices/${invoice.id}/pdf`);
    await page.goto(e2e.url('/billing/invoices'));
    await page.getByTestId('invoice-row').and(page.locator(`[data-number="${invoice.number}"]`)).getByTestId('invoice-link').click();
    await page.waitForURL((u) => u.pathname === `/billing/invoices/${invoice.id}`);
    const res = await pdf;
    expect(res.status()).toBe(200);
    expect(res.headers()['content-type']).toBe('application/pdf');
    return bytesAt(page, (await page.getByTestId('pdf-preview').getAttribute('src'))!);
  }

  it('a billing manager reads an invoice and its PDF, credits part of it, then voids it with a reason', { timeout: 180_000 }, async () => {
    const { page } = e2e;
    await e2e.signIn(billingUser);
    // The billing role's navigation: billing, and none of the infrastructure it cannot use.
    await page.getByTestId('nav-billing').waitFor();
    for (const hidden of ['nav-containers', 'nav-nodes', 'nav-proxmox']) expect(await page.getByTestId(hidden).count(), hidden).toBe(0);

    const pdf = await openInvoice(page, credited);
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(await page.getByTestId('invoice-number').innerText()).toBe(credited.number);
    // 100.00 net, 19 % German tax: the totals as computed once by the API, in minor units.
    expect(await page.getByTestId('document-subtotal').innerText()).toMatch(/100\.00/);
    expect(await page.getByTestId('document-tax').innerText()).toMatch(/19\.00/);
    expect(await page.getByTestId('document-total').innerText()).toMatch(/119\.00/);
    // The invoice email went out once, and the page lists it.
    await expect.poll(() => page.getByTestId('invoice-email').first().getAttribute('data-status').catch(() => null), { timeout: 30_000 }).toBe('sent');
    await saveScreenshot(page, 'billing-invoice');

    // A partial credit note: 10.00 net at the invoice's 19 %.
    await page.getByTestId('invoice-credit').click();
    await page.getByTestId('invoice-credit-reason').fill('Two days of downtime');
    await page.getByTestId('invoice-credit-part').check();
    await page.getByTestId('invoice-credit-description').fill('Outage credit');
    await page.getByTestId('invoice-credit-amount').fill('10');
    await page.getByTestId('invoice-credit-confirm').click();
    const note = page.getByTestId('invoice-credit-note').first();
    await expect.poll(() => note.getAttribute('data-number').catch(() => null), { timeout: 30_000 }).toMatch(/^CN-\d{4}-000001$/);
    expect(await note.innerText()).toMatch(/11\.90/);
    expect(await note.innerText()).toContain('Two days of downtime');

    // Void: the reason is required, then recorded and shown; the number stays.
    await page.getByTestId('invoice-void').click();
    await page.getByTestId('invoice-void-confirm').click();
    await page.locator('dialog[open]').getByRole('alert').waitFor();
    expect(await page.locator('dialog[open]').innerText()).toContain('say why');
    await page.getByTestId('invoice-void-reason-input').fill('Sold by mistake');
    await page.getByTestId('invoice-void-confirm').click();
    await expect.poll(() => page.getByTestId('invoice-status').getAttribute('data-status'), { timeout: 10_000 }).toBe('void');
    expect(await page.getByTestId('invoice-void-reason').innerText()).toBe('Sold by mistake');
    expect(await page.getByTestId('invoice-number').innerText()).toBe(credited.number);
    expect(await page.getByTestId('invoice-void').count()).toBe(0);
    const stored = await e2e.api$<{ status: string; voidReason: string; creditNotes: Array<{ totalMinor: number }> }>(staff, `/api/invoices/${credited.id}`);
    expect(stored).toMatchObject({ status: 'void', voidReason: 'Sold by mistake', creditNotes: [{ totalMinor: 1190 }] });

    // The credit note has a page and a PDF of its own.
    await page.goto(e2e.url('/billing/credit-notes'));
    const notePdf = page.waitForResponse((r) => /^\/api\/credit-notes\/[0-9a-f-]{36}\/pdf$/.test(new URL(r.url()).pathname), { timeout: 30_000 });
    await page.getByTestId('credit-note-row').first().getByTestId('credit-note-link').click();
    expect((await notePdf).status()).toBe(200);
    const noteBytes = await bytesAt(page, (await page.getByTestId('pdf-download').getAttribute('href'))!);
    expect(noteBytes.subarray(0, 5).toString('latin1')).toBe('%PDF-');
  });

  it('a billing manager pauses the billing run with a note and resumes it; Temporal’s Schedule follows', { timeout: 120_000 }, async () => {
    const { page } = e2e;
    const scheduleState = () => e2e.p.temporal.schedule.getHandle(billingScheduleId(tenantId)).describe().then((d) => d.state);
    await e2e.signIn(billingUser);
    await page.goto(e2e.url('/billing/schedule'));
    const state = page.getByTestId('schedule-state');
    expect(await state.getAttribute('data-paused')).toBe('false');
    expect(await page.getByTestId('schedule-next').locator('li').count()).toBeGreaterThan(0);

    await page.getByTestId('schedule-pause').click();
    await page.getByTestId('schedule-pause-note').fill('Year-end closing until Jan 3');
    await page.getByTestId('schedule-pause-confirm').click();
    await expect.poll(() => state.getAttribute('data-paused'), SCHEDULE_APPLIED).toBe('true');
    expect(await page.getByTestId('schedule-note').innerText()).toContain('Year-end closing until Jan 3');
    expect(await scheduleState()).toMatchObject({ paused: true, note: 'Year-end closing until Jan 3' });
    await saveScreenshot(page, 'billing-schedule-paused');
    // It stays paused across a reload: the page shows Temporal's state, not its own.
    await page.reload();
    expect(await page.getByTestId('schedule-state').getAttribute('data-paused')).toBe('true');

    await page.getByTestId('schedule-resume').click();
    await expect.poll(() => page.getByTestId('schedule-state').getAttribute('data-paused'), SCHEDULE_APPLIED).toBe('false');
    expect((await scheduleState()).paused).toBe(false);
    await page.getByTestId('schedule-pause').waitFor();
  });

  it('an operator reads invoices, subscriptions and the billing run but finds no button that changes money', { timeout: 120_000 }, async () => {
    const { page } = e2e;
    await e2e.signIn(operatorUser);
    await page.getByTestId('nav-billing').click();
    await openInvoice(page, open);
    expect(await page.getByTestId('document-total').innerText()).toMatch(/49\.98/);
    for (const button of ['invoice-finalize', 'invoice-mark-paid', 'invoice-resend', 'invoice-credit', 'invoice-void']) expect(await page.getByTestId(button).count(), button).toBe(0);

    await page.goto(e2e.url(`/billing/subscriptions/${subscriptionId}`));
    await page.getByTestId('subscription-facts').waitFor();
    expect(await page.getByTestId('subscription-status').first().getAttribute('data-status')).toBe('active');
    for (const button of ['subscription-cancel-now', 'subscription-cancel-period-end']) expect(await page.getByTestId(button).count(), button).toBe(0);

    await page.goto(e2e.url('/billing/schedule'));
    await page.getByTestId('schedule-state').waitFor();
    for (const button of ['schedule-pause', 'schedule-resume', 'schedule-trigger', 'schedule-backfill']) expect(await page.getByTestId(button).count(), button).toBe(0);

    await page.goto(e2e.url('/billing/settings'));
    expect(await page.getByTestId('settings-legal-name').inputValue()).toBe('Hoster GmbH');
    expect(await page.getByTestId('settings-legal-name').isDisabled()).toBe(true);
    for (const button of ['settings-save', 'tax-rule-new']) expect(await page.getByTestId(button).count(), button).toBe(0);
  });

  it('a customer user lists only their own invoices in the portal and downloads one as PDF', { timeout: 120_000 }, async () => {
    const portalUser = await createCustomerUser(e2e.p, staff, tenantId, ours.id);
    const { page } = e2e;
    await e2e.signInToPortal(portalUser);
    await page.getByTestId('portal-nav-invoices').click();
    await page.getByTestId('invoices-table').waitFor();
    const numbers = await page.getByTestId('invoice-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-number')));
    expect(numbers.sort()).toEqual([credited.number, open.number].sort());
    expect(numbers).not.toContain(other.number);
    // The other customer's PDF is not theirs, even by address.
    expect((await page.request.get(e2e.url(`/api/invoices/${other.id}/pdf`))).status()).toBe(404);

    const row = page.getByTestId('invoice-row').and(page.locator(`[data-number="${open.number}"]`));
    const [download] = await Promise.all([page.waitForEvent('download'), row.getByTestId('invoice-download').click()]);
    expect(download.suggestedFilename()).toBe(`${open.number}.pdf`);
    const bytes = await readFile((await download.path())!);
    expect(bytes.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    // Exactly the stored PDF of that invoice.
    const served = await e2e.p.request(`/api/invoices/${open.id}/pdf`, { headers: staff.headers });
    expect(Buffer.compare(bytes, Buffer.from(await served.arrayBuffer()))).toBe(0);
    await saveScreenshot(page, 'portal-invoices');
  });

  // Last: the billing run it starts invoices the subscription, which the portal test above does not expect.
  it('a billing manager changes a subscription’s plan mid-period and is shown the prorated invoice', { timeout: 180_000 }, async () => {
    await e2e.api$(staff, '/api/billing/schedule/trigger', { method: 'POST' });
    const invoiced = await pollUntil(
      () => e2e.api$<{ currentPeriodStart: string | null }>(staff, `/api/subscriptions/${subscriptionId}`),
      (sub) => sub.currentPeriodStart !== null,
      90_000,
    );
    expect(invoiced.currentPeriodStart).not.toBeNull();

    const { page } = e2e;
    await e2e.signIn(billingUser);
    await page.goto(e2e.url(`/billing/subscriptions/${subscriptionId}`));
    // The period's days are the customer's (Berlin), in the subscription's facts and its invoice alike.
    const period = await page.getByTestId('subscription-period').innerText();
    expect(await page.getByTestId('invoice-period').allInnerTexts()).toContain(period);
    await page.getByTestId('subscription-change-plan').click();
    await page.getByTestId('subscription-change-plan-select').selectOption(largerPlan.planId);
    await page.getByTestId('subscription-change-confirm').click();
    const notice = page.getByTestId('subscription-changed');
    await notice.waitFor({ timeout: 60_000 });
    const link = notice.getByRole('link', { name: 'an invoice' });
    const href = (await link.getAttribute('href'))!;
    const change = await e2e.api$<{ planId: string }>(staff, `/api/subscriptions/${subscriptionId}`);
    expect(change.planId).toBe(largerPlan.planId);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toContain(largerPlan.name);
    // The adjustment is a real invoice of this subscription: a credit line and a charge line, both prorations.
    const adjustment = await e2e.api$<{ subscriptionId: string; lines: Array<{ kind: string; unitPriceMinor: number }> }>(staff, `/api${href.replace('/billing', '')}`);
    expect(adjustment.subscriptionId).toBe(subscriptionId);
    expect(adjustment.lines.map((l) => l.kind)).toEqual(['proration', 'proration']);
    expect(adjustment.lines[0]!.unitPriceMinor).toBeLessThan(0);
    expect(adjustment.lines[1]!.unitPriceMinor).toBeGreaterThan(0);
    await saveScreenshot(page, 'billing-subscription-changed');
  });
});
