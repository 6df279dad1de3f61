import { describe, expect, it } from 'vitest';
import { api, createCustomer, createCustomerUser } from '../../test/billing-fixtures';
import { PNG } from '../../test/kyc-harness';
import { saveScreenshot, setupE2e } from './harness';

/**
 * A reviewer withdraws an approval in the browser (decision 0030): the revoke form needs a reason;
 * the case shows revoked; the customer's identity page, open meanwhile, says the verification was
 * withdrawn, why, that their services are suspended until they verify again, and offers the
 * upload again. The services stopping for `kyc` is proven on the simulator (test/kyc-revoke.test.ts).
 */
describe('revoking a KYC approval in the reviewer page', () => {
  const e2e = setupE2e();

  it('the reviewer revokes with a reason; the customer sees why and can verify again', { timeout: 180_000 }, async () => {
    const tenantId = (await e2e.p.createTenant()).id;
    const billing = await e2e.apiSession(tenantId, 'billing');
    const reviewer = await e2e.createUser(tenantId, 'billing');
    const customer = await createCustomer(e2e.p, billing);
    const portalUser = await createCustomerUser(e2e.p, billing, tenantId, customer.id);
    // Approved through the API (the browser part of that is e2e/kyc.test.ts).
    await api(e2e.p, portalUser, `/api/kyc/cases/${customer.id}`, { body: {}, expect: 202 });
    await expect.poll(async () => (await api<{ case: { state: string } | null }>(e2e.p, portalUser, `/api/kyc/cases/${customer.id}`)).case?.state, { timeout: 30_000 }).toBe('awaiting_documents');
    const up = await e2e.p.app.request(`/api/kyc/cases/${customer.id}/documents?kind=passport&filename=passport.png`, { method: 'POST', headers: { ...portalUser.headers, 'content-type': 'application/octet-stream' }, body: PNG });
    expect(up.status).toBe(201);
    await api(e2e.p, portalUser, `/api/kyc/cases/${customer.id}/submit`, { method: 'POST' });
    await api(e2e.p, billing, `/api/kyc/cases/${customer.id}/decision`, { body: { decision: 'approve' } });

    const customerContext = await e2e.browser.newContext({ viewport: { width: 1400, height: 1000 } });
    try {
      const cp = await customerContext.newPage();
      await e2e.signInToPortal(portalUser, cp);
      await cp.goto(e2e.url('/portal/kyc'));
      await cp.locator('[data-testid="kyc-status"][data-state="approved"]').waitFor();
      expect(await cp.getByTestId('kyc-upload-form').count()).toBe(0);

      const { page } = e2e;
      await e2e.signIn(reviewer);
      await page.goto(e2e.url(`/kyc/${customer.id}`));
      await page.locator('[data-testid="kyc-state"][data-state="approved"]').waitFor();
      // No reason, no revocation.
      expect(await page.getByTestId('kyc-revoke').isDisabled()).toBe(true);
      await page.getByTestId('kyc-revoke-reason').fill('the passport was reported stolen');
      await page.getByTestId('kyc-revoke').click();
      await page.locator('[data-testid="kyc-state"][data-state="revoked"]').waitFor({ timeout: 30_000 });
      expect(await page.getByTestId('kyc-history').innerText()).toContain('revoked');
      expect(await page.getByTestId('kyc-revoke-form').count()).toBe(0);

      // The customer reloads their identity page: withdrawn, why, what it means, and the upload.
      await expect.poll(async () => {
        await cp.reload();
        return cp.getByTestId('kyc-status').getAttribute('data-state');
      }, { timeout: 30_000, interval: 250 }).toBe('revoked');
      expect(await cp.getByTestId('kyc-reason').innerText()).toContain('the passport was reported stolen');
      expect(await cp.getByTestId('kyc-services-held').innerText()).toContain('suspended until your identity is verified again');
      await cp.getByTestId('kyc-upload-form').waitFor();
      await saveScreenshot(cp, 'kyc-revoked-portal');
    } finally {
      await customerContext.close();
    }
  });
});
