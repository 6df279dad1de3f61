import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCustomer, createCustomerUser } from '../../test/billing-fixtures';
import { saveScreenshot, setupE2e } from './harness';

/**
 * Support in the browser (decision 0028): a customer opens a ticket with a screenshot in the
 * portal; an operator finds it in the staff list, assigns it, answers; the customer reads the
 * answer in the thread and writes back.
 */
describe('support tickets in the portal and the staff pages', () => {
  const e2e = setupE2e();

  it('a customer opens a ticket and staff reply', { timeout: 180_000 }, async () => {
    const tenantId = (await e2e.p.createTenant()).id;
    const billing = await e2e.apiSession(tenantId, 'billing');
    const customer = await createCustomer(e2e.p, billing);
    const portalUser = await createCustomerUser(e2e.p, billing, tenantId, customer.id);
    const agent = await e2e.createUser(tenantId, 'operator');
    const subject = `Mail bounces ${randomUUID().slice(0, 6)}`;

    const customerContext = await e2e.browser.newContext({ viewport: { width: 1400, height: 1000 } });
    try {
      const cp = await customerContext.newPage();
      await e2e.signInToPortal(portalUser, cp);
      await cp.getByTestId('portal-nav-tickets').click();
      await cp.getByTestId('ticket-new').click();
      await cp.getByTestId('ticket-subject').fill(subject);
      await cp.getByTestId('ticket-body').fill('Every mail to gmail bounces since this morning.');
      await cp.getByTestId('ticket-files').setInputFiles({ name: 'bounce.txt', mimeType: 'text/plain', buffer: Buffer.from('550 5.7.1 rejected\n') });
      await cp.getByTestId('ticket-submit').click();
      await cp.waitForURL((u) => /^\/portal\/tickets\/[0-9a-f-]{36}$/.test(u.pathname));
      await cp.getByTestId('ticket-message').first().waitFor();
      expect(await cp.getByTestId('ticket-attachment').innerText()).toBe('bounce.txt');
      const ticketPath = new URL(cp.url()).pathname;

      // Staff: the list shows it with its SLA state; assign and answer.
      const { page } = e2e;
      await e2e.signIn(agent);
      await page.getByTestId('nav-tickets').click();
      await page.waitForURL((u) => u.pathname === '/tickets');
      const row = page.getByTestId('ticket-row').filter({ hasText: subject });
      await row.waitFor();
      expect(await row.getByTestId('ticket-sla').getAttribute('data-state')).toBe('ok');
      await row.getByTestId('ticket-link').click();
      await page.getByTestId('ticket-thread').waitFor();
      // Members are listed by name (this one is called after their role).
      await page.getByTestId('ticket-assignee').selectOption({ label: 'operator' });
      await expect.poll(async () => page.getByTestId('ticket-assignee').inputValue()).not.toBe('');
      await page.getByTestId('ticket-set-priority').selectOption('high');
      await expect.poll(async () => page.getByTestId('ticket-set-priority').inputValue()).toBe('high');
      await page.getByTestId('ticket-reply').fill('Your SPF record was missing; we added it. Please try again.');
      await page.getByTestId('ticket-send').click();
      await expect.poll(async () => page.getByTestId('ticket-message').count()).toBe(2);
      await expect.poll(async () => {
        await page.reload();
        return page.getByTestId('ticket-status').getAttribute('data-status');
      }, { timeout: 30_000 }).toBe('waiting_on_customer');

      // The customer reads the answer and writes back; the ticket waits on staff again.
      await cp.goto(e2e.url(ticketPath));
      const answer = cp.getByTestId('ticket-message').and(cp.locator('[data-author="staff"]'));
      await answer.waitFor();
      expect(await answer.innerText()).toContain('SPF record was missing');
      await cp.getByTestId('ticket-reply').fill('Works now, thank you!');
      await cp.getByTestId('ticket-send').click();
      await expect.poll(async () => cp.getByTestId('ticket-message').count()).toBe(3);
      await saveScreenshot(cp, 'ticket-thread');
      await expect.poll(async () => {
        await cp.reload();
        return cp.getByTestId('ticket-status').getAttribute('data-status');
      }, { timeout: 30_000 }).toBe('open');
    } finally {
      await customerContext.close();
    }
  });
});
