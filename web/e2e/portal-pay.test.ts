import { describe, expect, it } from 'vitest';
import { api, createCustomerUser } from '../../test/billing-fixtures';
import { attachSimulatorServices, type SimulatorServices } from '../../test/dunning-harness';
import { startSmtpReceiver, type SmtpReceiver } from '../../test/smtp';
import { startSettledStripeMock } from '../../test/stripe-mock';
import { saveScreenshot, setupE2e } from './harness';

/**
 * "Pay now" in the portal (decisions 0026, 0027): a customer whose invoice is overdue and whose VM
 * on the Proxmox simulator the dunning ladder has suspended opens their invoices, sees the card
 * they saved, pays with it and watches the payment be recorded and the VM come back, live. Stripe
 * is a private stripe-mock whose PaymentIntents read back succeeded for 25.00 EUR (the plan's
 * price; test/stripe-mock.ts says why); Stripe.js is not on the page: Keelson confirms the charge
 * of the saved card itself.
 */
describe('a customer pays an overdue invoice in the portal', () => {
  let stripeMock: Awaited<ReturnType<typeof startSettledStripeMock>>;
  let smtp: SmtpReceiver;
  let services: SimulatorServices | undefined;
  const e2e = setupE2e({
    coreWorkerOptions: async () => {
      stripeMock = await startSettledStripeMock({ amountMinor: 2500, currency: 'EUR' });
      e2e.p.deps.config.stripeApiUrl = stripeMock.url;
      // A ladder day of 0.4 s: the suspend step (day 0) comes at once.
      return { billing: { dunningDayMs: 400 }, payments: { stripeApiUrl: stripeMock.url } };
    },
  });

  it('sees the service suspended, clicks Pay now, sees the invoice paid and the service running again', { timeout: 300_000 }, async () => {
    try {
      smtp = await startSmtpReceiver();
      const tenantId = (await e2e.p.createTenant()).id;
      const billing = await e2e.apiSession(tenantId, 'billing');
      const owner = await e2e.apiSession(tenantId, 'owner');
      await api(e2e.p, owner, '/api/mail/smtp', { method: 'PUT', body: { host: '127.0.0.1', port: smtp.port, security: 'none', fromAddress: 'billing@hoster.test' } });
      await api(e2e.p, billing, '/api/billing/settings', { method: 'PUT', body: { legalName: 'Hoster Ltd', paymentTermsDays: 0, address: { line1: '1 Quay', postalCode: 'D01', city: 'Dublin', country: 'IE' } } });
      await api(e2e.p, billing, '/api/billing/dunning', { method: 'PUT', body: { enabled: true, terminationApproval: true, ladder: [{ day: 0, kind: 'suspend' }] } });
      await api(e2e.p, billing, '/api/billing/stripe', { method: 'PUT', body: { secretKey: 'sk_test_portal0123456789', webhookSecret: 'whsec_portal0123456789', publishableKey: 'pk_test_portal0123' } });
      services = await attachSimulatorServices(e2e.p, tenantId, billing);

      const s = await services.serviceWithVm();
      const portal = await createCustomerUser(e2e.p, billing, tenantId, s.customerId);
      const inv = await services.invoiceOf(s.subscriptionId);
      const vm = services.vm;
      await expect.poll(async () => (await vm(s.vmid)).status, { timeout: 120_000, interval: 500 }).toBe('stopped');

      // Without a card on file the page says how to add one, and there is nothing to pay with.
      const { page } = e2e;
      await e2e.signInToPortal(portal, page);
      await page.getByTestId('portal-nav-invoices').click();
      await page.waitForURL((u) => u.pathname === '/portal/invoices');
      const row = page.getByTestId('portal-open-invoice').and(page.locator(`[data-number="${inv.number}"]`));
      await row.waitFor();
      expect(await page.getByTestId('portal-card-none').innerText()).toMatch(/No card on file\. Add a card/);
      expect(await row.getByTestId('portal-pay-now').isDisabled()).toBe(true);
      expect(await row.getByTestId('portal-pay-needs-card').innerText()).toContain(inv.number);
      expect(await row.getByTestId('invoice-status').innerText()).toBe('overdue');
      await expect.poll(() => row.getByTestId('portal-invoice-service').getAttribute('data-suspended'), { timeout: 30_000 }).toBe('true');
      expect((await row.getByTestId('portal-invoice-service').innerText()).replace(/\s+/g, ' ')).toContain('Suspended until the invoice is paid');

      // The card saved earlier through the API the card form uses (Stripe.js would confirm the
      // SetupIntent in between; stripe-mock answers for Stripe).
      await api(e2e.p, portal, `/api/customers/${s.customerId}/card/setup`, { method: 'POST', expect: 201 });
      await api(e2e.p, portal, `/api/customers/${s.customerId}/card`, { method: 'PUT', body: { paymentMethodId: 'pm_card_visa' } });
      await page.reload();
      await expect.poll(() => page.getByTestId('portal-card').innerText(), { timeout: 30_000 }).toMatch(/visa\s*•••• 4242, expires \d{2}\/\d{4}/i);
      await saveScreenshot(page, 'portal-pay-overdue');

      await row.getByTestId('portal-pay-now').click();
      const payment = row.getByTestId('portal-payment');
      await payment.waitFor({ timeout: 30_000 });
      expect(['succeeded', 'processing']).toContain(await payment.getAttribute('data-outcome'));
      // Live: the page follows the payment being recorded and the VM being started again.
      await expect.poll(() => payment.getAttribute('data-invoice-status'), { timeout: 60_000 }).toBe('paid');
      expect((await payment.innerText()).replace(/\s+/g, ' ')).toMatch(/paid €25\.00 received from your visa •••• 4242/i);
      await expect.poll(() => row.getByTestId('portal-invoice-service').getAttribute('data-state'), { timeout: 120_000 }).toBe('running');
      expect(await row.getByTestId('portal-invoice-service').getAttribute('data-suspended')).toBe('false');
      expect((await row.getByTestId('portal-invoice-service').innerText()).replace(/\s+/g, ' ')).toContain('Running.');
      await saveScreenshot(page, 'portal-pay-restored');

      // What the page said is what happened: one payment, the VM running on the simulator again.
      expect(await vm(s.vmid)).toMatchObject({ status: 'running', stops: 1, starts: 1 });
      const ledger = await api<{ status: string; payments: Array<{ provider: string; amountMinor: number }> }>(e2e.p, billing, `/api/invoices/${inv.id}/payments`);
      expect(ledger).toMatchObject({ status: 'paid', payments: [{ provider: 'stripe', amountMinor: 2500 }] });
      // Asked again (a second tab, a back button): nothing left to pay, no second charge.
      const again = await e2e.p.request(`/api/invoices/${inv.id}/pay/saved-card`, { method: 'POST', headers: portal.headers });
      expect(again.status).toBe(409);
    } finally {
      await services?.close();
      await smtp?.close();
      await stripeMock?.close();
    }
  });
});
