import { beforeAll, describe, expect, it } from 'vitest';
import { createCustomer, createCustomerUser, pollUntil } from '../../test/billing-fixtures';
import type { SignedIn } from '../../test/platform';
import { saveScreenshot, setupE2e } from './harness';

/**
 * Payments on the invoice page (decision 0026): a billing manager records a bank transfer for part
 * of an invoice, then cash for more than is left — the page shows the balance the ledger derives,
 * each payment and the customer's credit —, and the credit pays the customer's next invoice
 * first. An operator sees the payments but cannot record one.
 */
describe('payments on the invoice page', () => {
  const e2e = setupE2e();
  let staff: SignedIn;
  let billingUser: { email: string; password: string };
  let operatorUser: { email: string; password: string };
  let customerId: string;
  let tenantId: string;

  async function issueInvoice(netMinor: number): Promise<string> {
    const draft = await e2e.api$<{ id: string }>(staff, '/api/invoices', { body: { customerId, lines: [{ description: 'Managed hosting', quantity: 1, unitPriceMinor: netMinor }] }, expect: 201 });
    await e2e.api$(staff, `/api/invoices/${draft.id}/finalize`, { method: 'POST', expect: 202 });
    const done = await pollUntil(() => e2e.api$<{ status: string }>(staff, `/api/invoices/${draft.id}`), (i) => i.status !== 'draft', 60_000);
    expect(done.status).toBe('finalized');
    return draft.id;
  }

  beforeAll(async () => {
    tenantId = (await e2e.p.createTenant()).id;
    staff = await e2e.apiSession(tenantId, 'billing');
    customerId = (await createCustomer(e2e.p, staff)).id;
    billingUser = await e2e.createUser(tenantId, 'billing');
    operatorUser = await e2e.createUser(tenantId, 'operator');
  }, 120_000);

  it('a billing manager records a partial and an over-payment; the credit pays the next invoice', { timeout: 180_000 }, async () => {
    const first = await issueInvoice(10_000);
    const { page } = e2e;
    await e2e.signIn(billingUser);
    await page.goto(e2e.url(`/billing/invoices/${first}`));
    const minor = (testid: string) => page.getByTestId(testid).getAttribute('data-minor', { timeout: 1_000 }).catch(() => null);
    await expect.poll(() => minor('invoice-balance'), { timeout: 30_000 }).toBe('10000');
    expect(await page.getByTestId('invoice-balance').innerText()).toMatch(/100\.00/);

    const record = async (amount: string, method: string, reference: string) => {
      await page.getByTestId('invoice-record-payment').click();
      await page.getByTestId('payment-amount').fill(amount);
      await page.getByTestId('payment-method').selectOption(method);
      await page.getByTestId('payment-reference').fill(reference);
      await page.getByTestId('invoice-record-payment-confirm').click();
    };
    await record('40', 'bank_transfer', 'SEPA 2027-0042');
    await expect.poll(() => minor('invoice-balance'), { timeout: 30_000 }).toBe('6000');
    expect(await page.getByTestId('invoice-payment').count()).toBe(1);
    expect(await page.getByTestId('invoice-payment').first().innerText()).toContain('SEPA 2027-0042');

    await record('75', 'cash', 'Receipt 17');
    await expect.poll(() => minor('invoice-balance'), { timeout: 30_000 }).toBe('0');
    await expect.poll(() => minor('customer-credit'), { timeout: 30_000 }).toBe('1500');
    await expect.poll(() => page.getByTestId('invoice-status').getAttribute('data-status', { timeout: 1_000 }).catch(() => null), { timeout: 30_000 }).toBe('paid');
    expect(await page.getByTestId('invoice-payment').nth(1).innerText()).toMatch(/15\.00 credit/);
    await saveScreenshot(page, 'billing-invoice-payments');

    // The next invoice takes the credit first when it is finalized.
    const next = await issueInvoice(2_500);
    await page.goto(e2e.url(`/billing/invoices/${next}`));
    await expect.poll(() => minor('invoice-credit-applied'), { timeout: 30_000 }).toBe('1500');
    expect(await minor('invoice-balance')).toBe('1000');
  });

  it('an operator sees the payments but has no button to record one', { timeout: 120_000 }, async () => {
    const invoice = await issueInvoice(1_000);
    await e2e.api$(staff, `/api/invoices/${invoice}/payments`, { body: { amountMinor: 300, method: 'bank_transfer', reference: 'partial' }, expect: 201 });
    const { page } = e2e;
    await e2e.signIn(operatorUser);
    await page.goto(e2e.url(`/billing/invoices/${invoice}`));
    await expect.poll(() => page.getByTestId('invoice-balance').getAttribute('data-minor', { timeout: 1_000 }).catch(() => null), { timeout: 30_000 }).toBe('700');
    expect(await page.getByTestId('invoice-payment').count()).toBe(1);
    expect(await page.getByTestId('invoice-record-payment').count()).toBe(0);
  });

  it('a customer sees the card they saved on their profile', { timeout: 120_000 }, async () => {
    await e2e.api$(staff, '/api/billing/stripe', { method: 'PUT', body: { secretKey: 'sk_test_portal0123456789', webhookSecret: 'whsec_portal0123456789', publishableKey: 'pk_test_portal0123' } });
    const portal = await createCustomerUser(e2e.p, staff, tenantId, customerId);
    const { page } = e2e;
    await e2e.signInToPortal(portal, page);
    await page.goto(e2e.url('/portal/profile'));
    expect((await page.getByTestId('portal-card').innerText()).trim()).toBe('None');
    // What the portal's card form does once Stripe.js has confirmed the SetupIntent (stripe-mock answers for Stripe).
    const setup = await e2e.api$<{ setupIntentId: string }>(portal, `/api/customers/${customerId}/card/setup`, { method: 'POST', expect: 201 });
    expect(setup.setupIntentId).toMatch(/^seti_/);
    await e2e.api$(portal, `/api/customers/${customerId}/card`, { method: 'PUT', body: { paymentMethodId: 'pm_card_visa' } });
    await page.reload();
    await expect.poll(() => page.getByTestId('portal-card').innerText(), { timeout: 30_000 }).toMatch(/visa\s*•••• 4242, expires \d{2}\/\d{4}/i);
    await saveScreenshot(page, 'portal-profile-card');
  });
});
