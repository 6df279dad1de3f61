import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpReceiver, type SmtpReceiver } from '../../test/smtp';
import { saveScreenshot, setupE2e } from './harness';

/** An admin sets the organization's SMTP server, sends a test email, and never sees the password again. */
describe('email settings in the browser', () => {
  const e2e = setupE2e();
  let smtp: SmtpReceiver;
  let tenantId: string;
  let admin: { email: string; password: string };
  const login = { username: 'mailer', password: 'the smtp password' };

  beforeAll(async () => {
    smtp = await startSmtpReceiver({ auth: login });
    tenantId = (await e2e.p.createTenant()).id;
    admin = await e2e.createUser(tenantId, 'admin');
  });
  afterAll(() => smtp?.close());

  it('saves the server with a write-only password and sends a test email through it', async () => {
    const { page } = e2e;
    await e2e.signIn(admin);
    await page.getByTestId('nav-email').click();
    await page.waitForURL((u) => u.pathname === '/settings/email');
    await page.getByTestId('smtp-not-configured').waitFor();

    await page.getByTestId('smtp-host').fill('127.0.0.1');
    await page.getByTestId('smtp-security').selectOption('none');
    await page.getByTestId('smtp-port').fill(String(smtp.port));
    await page.getByTestId('smtp-username').fill(login.username);
    await page.getByTestId('smtp-password').fill(login.password);
    await page.getByTestId('smtp-from').fill('not an address');
    await page.getByTestId('smtp-save').click();
    // The API names the field; the page shows it at its input.
    await page.locator('[data-testid="field-error"][data-field="fromAddress"]').waitFor();

    await page.getByTestId('smtp-from').fill('billing@hoster.test');
    await page.getByTestId('smtp-from-name').fill('Hoster Billing');
    await page.getByTestId('smtp-save').click();
    await page.getByText('Settings saved.').waitFor();
    // Stored, and never shown: the field is empty and says a password is stored.
    expect(await page.getByTestId('smtp-password').inputValue()).toBe('');
    expect(await page.locator('body').innerText()).toContain('A password is stored');
    expect(await page.content()).not.toContain(login.password);

    await page.getByTestId('smtp-test-to').fill('ops@hoster.test');
    await page.getByTestId('smtp-test-send').click();
    const result = page.getByTestId('smtp-test-result');
    await expect.poll(() => result.getAttribute('data-status'), { timeout: 40_000 }).toBe('sent');
    const got = await smtp.waitForMessage((m) => m.to.includes('ops@hoster.test'));
    expect(got).toMatchObject({ user: 'mailer', envelope: { from: 'billing@hoster.test' } });
    expect(await result.innerText()).toContain(got.messageId!);
    await saveScreenshot(page, 'email-settings');

    // Reloaded, the page shows what is stored and still no password.
    await page.reload();
    expect(await page.getByTestId('smtp-host').inputValue()).toBe('127.0.0.1');
    expect(await page.getByTestId('smtp-password').inputValue()).toBe('');
  });

  it('is not offered to roles that cannot change it', async () => {
    const { page } = e2e;
    const operator = await e2e.createUser(tenantId, 'operator');
    await e2e.signIn(operator);
    expect(await page.getByTestId('nav-email').count()).toBe(0);
  });
});
