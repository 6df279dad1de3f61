import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerLabel } from '@keelson/common/constants';
import { createCustomerUser } from '../../test/billing-fixtures';
import type { SignedIn } from '../../test/platform';
import { clusterBody, startProxmoxForCoreWorker } from '../../test/proxmox-api-fixture';
import type { ProxmoxHarness } from '../../test/proxmox-harness';
import { freePort } from '../../test/runs';
import { saveScreenshot, setupE2e } from './harness';

/**
 * Billing in the browser: a billing manager adds a customer and a VM plan through the staff
 * pages and writes a quote; the customer orders the plan in the portal, staff accept the order,
 * and the customer watches their VM come up on the Proxmox simulator; then accepts the quote; and
 * orders a container plan, asked only its name, and sees it running on the Docker engine.
 */
describe('billing pages and the customer portal', () => {
  const e2e = setupE2e();
  let h: ProxmoxHarness;
  let tenantId: string;
  let billingUser: { email: string; password: string };
  let staffApi: SignedIn;
  let clusterName: string;
  const customerName = `Nordwind ${randomUUID().slice(0, 6)} GmbH`;
  const productName = `Cloud servers ${randomUUID().slice(0, 4)}`;
  const vmName = `cust-vm-${randomUUID().slice(0, 6)}`;
  let customerId: string;

  beforeAll(async () => {
    h = await startProxmoxForCoreWorker('web-billing');
    tenantId = (await e2e.p.createTenant()).id;
    billingUser = await e2e.createUser(tenantId, 'billing');
    staffApi = await e2e.apiSession(tenantId, 'billing');
    const admin = await e2e.apiSession(tenantId, 'admin');
    clusterName = (await e2e.api$<{ name: string }>(admin, '/api/proxmox/clusters', { body: clusterBody(h) })).name;
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  });

  it('a billing manager adds a customer (the tax id checked at its field) and a VM plan', { timeout: 180_000 }, async () => {
    const { page } = e2e;
    await e2e.signIn(billingUser);
    await page.getByTestId('nav-billing').click();
    await page.waitForURL((u) => u.pathname === '/billing/customers');
    await page.getByTestId('customer-new').click();
    await page.getByTestId('customer-name').fill(customerName);
    await page.getByTestId('customer-line1').fill('Hafenstraße 9');
    await page.getByTestId('customer-postal-code').fill('20457');
    await page.getByTestId('customer-city').fill('Hamburg');
    await page.getByTestId('customer-country').fill('DE');
    await page.getByTestId('customer-currency').fill('EUR');
    await page.getByTestId('customer-time-zone').fill('Europe/Berlin');
    await page.getByTestId('customer-tax-id').fill('DE12345');
    await page.getByTestId('contact-name').fill('Jana Nord');
    await page.getByTestId('contact-email').fill('jana@nordwind.test');
    await page.getByTestId('customer-save').click();
    const taxError = page.getByTestId('field-error').and(page.locator('[data-field="taxId"]'));
    await taxError.waitFor();
    expect(await taxError.innerText()).toMatch(/tax id/);
    await page.getByTestId('customer-tax-id').fill('DE123456789');
    await page.getByTestId('customer-save').click();
    await page.getByTestId('customer-facts').waitFor();
    expect(await page.getByTestId('customer-tax').innerText()).toBe('DE123456789');
    customerId = page.url().split('/').pop()!;

    await page.getByTestId('billing-tab').filter({ hasText: 'Products' }).click();
    await page.getByTestId('product-new').click();
    await page.getByTestId('product-name').fill(productName);
    await page.getByTestId('product-save').click();
    const product = page.getByTestId('product').and(page.locator(`[data-name="${productName}"]`));
    await product.getByTestId('plan-new').click();
    await page.getByTestId('plan-name').fill('S1');
    await page.getByTestId('plan-price-monthly').fill('12.5');
    await page.getByTestId('plan-price-yearly').fill('12.345');
    // The billing role cannot read Proxmox, yet chooses the cluster by its name (the catalog's list).
    const cluster = page.getByTestId('plan-cluster');
    expect(await cluster.evaluate((el) => el.tagName)).toBe('SELECT');
    await cluster.selectOption({ label: clusterName });
    await page.getByTestId('plan-cores').fill('1');
    await page.getByTestId('plan-memory').fill('512');
    await page.getByTestId('plan-save').click();
    // Three decimals are not euros: caught before anything is sent.
    await page.getByTestId('field-error').and(page.locator('[data-field="price.yearly"]')).waitFor();
    await page.getByTestId('plan-price-yearly').fill('');
    await page.getByTestId('plan-save').click();
    const plan = product.getByTestId('plan-row').and(page.locator('[data-name="S1"]'));
    await plan.waitFor();
    expect((await plan.getByTestId('plan-price').innerText()).replace(/\s/g, ' ')).toMatch(/12\.50.*month/);
    await saveScreenshot(page, 'billing-catalog');
  });

  it('staff write and send a quote; the customer accepts it in the portal and it becomes an order', { timeout: 180_000 }, async () => {
    const product = await e2e.api$<{ id: string }>(staffApi, '/api/catalog/products', { body: { name: `Support ${randomUUID().slice(0, 4)}` } });
    await e2e.api$(staffApi, `/api/catalog/products/${product.id}/plans`, { body: { name: 'Gold', currency: 'EUR', prices: [{ cycle: 'monthly', amountMinor: 19_900 }], provisioning: { kind: 'service' } } });
    const { page } = e2e;
    await e2e.signIn(billingUser);
    await page.goto(e2e.url(`/billing/customers/${customerId}`));
    await page.getByTestId('customer-quote').click();
    await page.getByTestId('quote-title').fill('Premium support');
    await page.getByTestId('quote-plan').selectOption({ label: `${(await productName$(product.id))} · Gold` });
    expect(await page.getByTestId('quote-plan-price').inputValue()).toBe('199.00');
    await page.getByTestId('quote-plan-price').fill('149');
    await page.getByTestId('quote-line-add').click();
    await page.getByTestId('quote-line-description').fill('Onboarding call');
    await page.getByTestId('quote-line-price').fill('80');
    expect(await page.getByTestId('quote-form-total').innerText()).toMatch(/229\.00/);
    await page.getByTestId('quote-save').click();
    await page.waitForURL((u) => /^\/billing\/quotes\/[0-9a-f-]{36}$/.test(u.pathname));
    await page.getByTestId('quote-send').click();
    await expect.poll(() => page.getByTestId('quote-status').getAttribute('data-status')).toBe('sent');
    expect(await page.getByTestId('quote-total').innerText()).toMatch(/229\.00/);

    const portalUser = await createCustomerUser(e2e.p, staffApi, tenantId, customerId);
    const customerContext = await e2e.browser.newContext({ viewport: { width: 1400, height: 1000 } });
    try {
      const cp = await customerContext.newPage();
      await e2e.signInToPortal(portalUser, cp);
      await cp.getByTestId('portal-nav-quotes').click();
      const quote = cp.getByTestId('portal-quote').filter({ hasText: 'Premium support' });
      expect(await quote.getByTestId('portal-quote-total').innerText()).toMatch(/229\.00/);
      await quote.getByTestId('portal-quote-accept').click();
      await quote.getByTestId('portal-quote-confirm').click();
      await cp.waitForURL((u) => u.pathname === '/portal');
      const row = cp.getByTestId('portal-service').filter({ hasText: 'Gold' });
      // On account (staff wrote the offer) and nothing to provision: active at once.
      await expect.poll(() => row.getByTestId('order-status').getAttribute('data-status').catch(() => null), { timeout: 20_000 }).toBe('active');
    } finally {
      await customerContext.close();
    }
    await page.goto(e2e.url('/billing/quotes'));
    const staffRow = page.getByTestId('quote-row').filter({ hasText: 'Premium support' });
    expect(await staffRow.getByTestId('quote-status').getAttribute('data-status')).toBe('accepted');
  });

  async function productName$(id: string): Promise<string> {
    const list = await e2e.api$<{ items: Array<{ id: string; name: string }> }>(staffApi, '/api/catalog/products');
    return list.items.find((p) => p.id === id)!.name;
  }

  it('the customer orders the VM plan in the portal, staff accept it, and the customer sees it running', { timeout: 300_000 }, async () => {
    const portalUser = await createCustomerUser(e2e.p, staffApi, tenantId, customerId);
    const customerPage = e2e.page;
    await e2e.signInToPortal(portalUser, customerPage);
    await customerPage.getByTestId('portal-nav-order').click();
    const plan = customerPage.getByTestId('portal-plan').and(customerPage.locator('[data-name="S1"]'));
    await plan.getByTestId('portal-plan-choose').click();
    await customerPage.getByTestId('order-hostname').fill(vmName);
    await customerPage.getByTestId('order-admin-user').fill('root');
    await customerPage.getByTestId('order-ssh-keys').fill(`# laptop\n${h.adminKey.publicKey}\n`);
    await customerPage.getByTestId('order-place').click();
    await customerPage.getByTestId('field-error').and(customerPage.locator('[data-field="adminUser"]')).waitFor();
    await customerPage.getByTestId('order-admin-user').fill('jana');
    await customerPage.getByTestId('order-place').click();
    await customerPage.waitForURL((u) => u.pathname === '/portal');
    // The one order of this customer, newest first; it has no server yet.
    const service = customerPage.getByTestId('portal-service').first();
    await expect.poll(() => service.getByTestId('order-status').getAttribute('data-status'), { timeout: 20_000 }).toBe('awaiting_acceptance');

    // Staff, in a browser of their own, accept it.
    const staffContext = await e2e.browser.newContext({ viewport: { width: 1400, height: 1000 } });
    try {
      const staffPage = await staffContext.newPage();
      await e2e.signIn(billingUser, staffPage);
      await staffPage.goto(e2e.url('/billing/orders'));
      const row = staffPage.getByTestId('order-row').filter({ hasText: customerName }).first();
      await row.getByTestId('order-accept').click();
      await expect.poll(() => row.getByTestId('order-status').getAttribute('data-status'), { timeout: 20_000 }).not.toBe('awaiting_acceptance');
    } finally {
      await staffContext.close();
    }

    // No reload: the portal follows the order to a running VM with its address.
    const running = customerPage.getByTestId('portal-service').and(customerPage.locator(`[data-name="${vmName}"]`));
    await expect.poll(() => running.getByTestId('guest-state').getAttribute('data-state').catch(() => null), { timeout: 240_000, interval: 500 }).toBe('running');
    const ip = (await running.getByTestId('portal-service-ip').innerText()).trim();
    expect(ip.startsWith(`${h.net}.`), ip).toBe(true);
    expect((await h.sim.control.state()).guests.some((g) => g.name === vmName && g.status === 'running')).toBe(true);
    // The customer's admin login works on it.
    expect((await h.ssh(ip, 'jana', h.adminKey, 'id -un')).trim()).toBe('jana');
    await saveScreenshot(customerPage, 'portal-services');
    // The portal is the customer's only view: the operator pages send them back.
    await customerPage.goto(e2e.url('/runs'));
    await customerPage.waitForURL((u) => u.pathname === '/portal');
  });

  it('the customer orders a container plan in the portal: asked only its name, they see it running with its port', { timeout: 180_000 }, async () => {
    const admin = await e2e.apiSession(tenantId, 'admin');
    const nodeId = (await e2e.p.addDockerNode(tenantId)).id;
    const port = await freePort();
    const blueprint = await e2e.api$<{ id: string }>(admin, '/api/blueprints', {
      body: { name: `web-${randomUUID().slice(0, 6)}`, image: 'keelson/busybox:latest', command: ['sh', '-c', 'mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 8080 -h /www'], ports: [{ container: 8080, host: port }] },
      expect: 201,
    });
    const product = await e2e.api$<{ id: string }>(staffApi, '/api/catalog/products', { body: { name: `Containers ${randomUUID().slice(0, 4)}` } });
    await e2e.api$(staffApi, `/api/catalog/products/${product.id}/plans`, { body: { name: 'C1', currency: 'EUR', prices: [{ cycle: 'monthly', amountMinor: 500 }], provisioning: { kind: 'container', blueprintId: blueprint.id, nodeId } } });
    const name = `shop-${randomUUID().slice(0, 6)}`;
    try {
      const portalUser = await createCustomerUser(e2e.p, staffApi, tenantId, customerId);
      const customerPage = e2e.page;
      await e2e.signInToPortal(portalUser, customerPage);
      await customerPage.getByTestId('portal-nav-order').click();
      await customerPage.getByTestId('portal-plan').and(customerPage.locator('[data-name="C1"]')).getByTestId('portal-plan-choose').click();
      // A container has a name and no login of its own.
      await customerPage.getByTestId('order-hostname').fill(name);
      expect(await customerPage.getByTestId('order-ssh-keys').count()).toBe(0);
      expect(await customerPage.getByTestId('order-admin-user').count()).toBe(0);
      await customerPage.getByTestId('order-place').click();
      await customerPage.waitForURL((u) => u.pathname === '/portal');

      const orders = await e2e.api$<{ items: Array<{ id: string; status: string; service: { name: string | null } | null; plan: { name: string } }> }>(staffApi, `/api/orders?customerId=${customerId}`);
      const order = orders.items.find((o) => o.plan.name === 'C1')!;
      await expect.poll(async () => (await e2e.api$<{ status: string }>(staffApi, `/api/orders/${order.id}`)).status, { timeout: 30_000 }).toBe('awaiting_acceptance');
      await e2e.api$(staffApi, `/api/orders/${order.id}/accept`, { body: {} });

      // No reload: the portal follows it to a running container and where it answers.
      const running = customerPage.getByTestId('portal-service').and(customerPage.locator(`[data-name="${name}"]`));
      await expect.poll(() => running.getByTestId('guest-state').getAttribute('data-state').catch(() => null), { timeout: 120_000, interval: 500 }).toBe('running');
      expect((await running.getByTestId('portal-service-ip').innerText()).trim()).toBe(`:${port}`);
      expect((await (await fetch(`http://127.0.0.1:${port}/`)).text()).trim()).toBe('hello');
      await saveScreenshot(customerPage, 'portal-container');
    } finally {
      for (const c of await e2e.p.docker.listContainers({ all: true, filters: { label: [`${DockerLabel.tenant}=${tenantId}`] } })) await e2e.p.docker.getContainer(c.Id).remove({ force: true });
    }
  });
});
