import { describe, expect, it } from 'vitest';
import { api, createCustomer, createCustomerUser } from '../../test/billing-fixtures';
import { PNG } from '../../test/kyc-harness';
import { saveScreenshot, setupE2e } from './harness';

/**
 * An order of a product that requires KYC (decisions 0023, 0028) in the browser: it waits; the
 * customer sees what is missing and uploads a document in the portal; a reviewer finds the case
 * in the queue and approves it; the customer sees the decision, then the service become active.
 */
describe('a requiresKyc order through the portal and the reviewer queue', () => {
  const e2e = setupE2e();

  it('the customer uploads, a reviewer approves, the customer sees the service appear', { timeout: 300_000 }, async () => {
    const tenantId = (await e2e.p.createTenant()).id;
    const billing = await e2e.apiSession(tenantId, 'billing');
    const reviewer = await e2e.createUser(tenantId, 'billing');
    await api(e2e.p, billing, '/api/billing/settings', { method: 'PUT', body: { legalName: 'Hoster Ltd', address: { line1: '1 Quay', postalCode: 'D01', city: 'Dublin', country: 'IE' } } });
    const product = await api<{ id: string }>(e2e.p, billing, '/api/catalog/products', { body: { name: 'Dedicated servers', requiresKyc: true } });
    const plan = await api<{ id: string }>(e2e.p, billing, `/api/catalog/products/${product.id}/plans`, { body: { name: 'D1', currency: 'EUR', prices: [{ cycle: 'monthly', amountMinor: 9900 }], provisioning: { kind: 'service' } } });
    const customer = await createCustomer(e2e.p, billing);
    const portalUser = await createCustomerUser(e2e.p, billing, tenantId, customer.id);
    const placed = await api<{ order: { id: string } }>(e2e.p, billing, '/api/orders', { body: { customerId: customer.id, planId: plan.id, cycle: 'monthly' }, expect: 202 });
    const orderStatus = async () => (await api<{ status: string }>(e2e.p, billing, `/api/orders/${placed.order.id}`)).status;

    const customerContext = await e2e.browser.newContext({ viewport: { width: 1400, height: 1000 } });
    try {
      const cp = await customerContext.newPage();
      await e2e.signInToPortal(portalUser, cp);
      const status = cp.getByTestId('order-status');
      await expect.poll(async () => {
        await cp.reload();
        return status.first().getAttribute('data-status');
      }, { timeout: 90_000 }).toBe('awaiting_kyc');

      await cp.getByTestId('portal-nav-kyc').click();
      await cp.getByTestId('kyc-upload-form').waitFor();
      expect(await cp.getByTestId('kyc-status').getAttribute('data-state')).toBe('awaiting_documents');
      await cp.getByTestId('kyc-kind').selectOption('passport');
      await cp.getByTestId('kyc-file').setInputFiles({ name: 'passport.png', mimeType: 'image/png', buffer: PNG });
      await cp.getByTestId('kyc-upload').click();
      await cp.getByTestId('kyc-submit').click();
      await expect.poll(async () => cp.getByTestId('kyc-status').getAttribute('data-state'), { timeout: 30_000 }).toBe('in_review');

      // The reviewer: the queue (oldest first, SLA shown), the case with its document, approve.
      const { page } = e2e;
      await e2e.signIn(reviewer);
      await page.getByTestId('nav-kyc').click();
      const row = page.getByTestId('kyc-queue-row').and(page.locator(`[data-customer="${customer.id}"]`));
      await row.waitFor();
      expect(await row.getByTestId('kyc-sla').getAttribute('data-overdue')).toBe('false');
      await row.getByTestId('kyc-case-link').click();
      expect(await page.getByTestId('kyc-document').first().innerText()).toContain('passport.png');
      await page.getByTestId('kyc-approve').click();
      await expect.poll(async () => page.getByTestId('kyc-state').getAttribute('data-state'), { timeout: 30_000 }).toBe('approved');
      const decidedAt = Date.now();

      // The customer's identity page shows the decision (reloaded as a customer would).
      await cp.getByTestId('portal-nav-kyc').click();
      await cp.waitForURL((url) => url.pathname === '/portal/kyc');
      await expect.poll(async () => {
        await cp.reload();
        return cp.getByTestId('kyc-status').getAttribute('data-state');
      }, { timeout: 30_000, interval: 100 }).toBe('approved');
      console.info(`reviewer's approval → visible on the customer's identity page: ${Date.now() - decidedAt} ms`);

      // Approved, the order (placed by staff, so already accepted) goes on and the service is active.
      await expect.poll(orderStatus, { timeout: 60_000 }).toBe('active');
      await cp.getByTestId('portal-nav-services').click();
      // Reloads below must reload the services page, not the one the click leaves.
      await cp.waitForURL((url) => url.pathname === '/portal');
      await expect.poll(async () => {
        await cp.reload();
        return status.first().getAttribute('data-status');
      }, { timeout: 90_000, interval: 250 }).toBe('active');
      await saveScreenshot(cp, 'kyc-order-active');
    } finally {
      await customerContext.close();
    }
  });
});
