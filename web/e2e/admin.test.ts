import { beforeAll, describe, expect, it } from 'vitest';
import { skipNote } from './features';
import { navLink, setupE2e } from './harness';

/** An organization's admin manages API keys and members, and reads what happened in the audit log. */
describe.skipIf(skipNote('adminPages'))('administration in the browser', () => {
  const e2e = setupE2e({ coreWorker: false });
  let tenantId: string;
  let admin: { email: string; password: string };

  beforeAll(async () => {
    tenantId = (await e2e.p.createTenant()).id;
    admin = await e2e.createUser(tenantId, 'admin');
  });

  const callWithKey = (key: string, path: string, body?: unknown) => e2e.p.request(path, { headers: { authorization: `Bearer ${key}` }, body });

  it('creates an API key that works with the scopes chosen, shows its secret once, and revokes it', async () => {
    const { page } = e2e;
    await e2e.signIn(admin);
    await navLink(page, 'api-keys').click();
    await page.waitForURL((u) => u.pathname === '/api-keys');

    const name = `ci-bot-${Math.random().toString(36).slice(2, 6)}`;
    await page.getByTestId('apikey-name').fill(name);
    await page.getByRole('button', { name: 'None', exact: true }).click();
    await page.getByTestId('apikey-scope').and(page.locator('[value="workflow.read"]')).check();
    await page.getByTestId('apikey-create').click();
    const shown = () => page.getByTestId('apikey-secret').innerText().then((t) => t.trim());
    await expect.poll(shown).toMatch(/^kls_/);
    const secret = await shown();

    // Read, yes; start, no: the key has exactly the scope that was ticked.
    expect((await callWithKey(secret, '/api/runs')).status).toBe(200);
    expect((await callWithKey(secret, '/api/runs', { operation: 'system.noop', input: {} })).status).toBe(403);

    await page.getByTestId('apikey-secret-done').click();
    const row = page.getByTestId('apikey-row').and(page.locator(`[data-name="${name}"]`));
    await expect.poll(() => row.getAttribute('data-state')).toBe('active');
    // The secret is shown once: the list has only its prefix.
    expect(await page.locator('body').innerText()).not.toContain(secret);

    await row.getByTestId('apikey-revoke').click();
    await page.getByTestId('apikey-revoke-confirm').click();
    await expect.poll(() => row.getAttribute('data-state')).toBe('revoked');
    expect((await callWithKey(secret, '/api/runs')).status).toBe(401);
  });

  it('invites a member who accepts on sign-in and has the role given', async () => {
    const { page } = e2e;
    await e2e.signIn(admin);
    await navLink(page, 'members').click();
    await page.waitForURL((u) => u.pathname === '/members');
    await page.getByTestId('member-row').and(page.locator(`[data-email="${admin.email}"]`)).waitFor();

    const member = { email: `new-${Math.random().toString(36).slice(2, 6)}@example.test`, password: 'a long enough password' };
    await page.getByTestId('member-email').fill(member.email);
    await page.getByTestId('member-name').fill('New Viewer');
    await page.getByTestId('member-role').selectOption('viewer');
    await page.getByTestId('member-password').fill(member.password);
    await page.getByTestId('member-add').click();
    // An invitation, not yet a member.
    await page.getByText(`Invited ${member.email} as viewer`).waitFor();
    expect(await page.getByTestId('member-row').and(page.locator(`[data-email="${member.email}"]`)).count()).toBe(0);

    const other = await e2e.browser.newContext();
    try {
      const theirs = await other.newPage();
      // Signing in shows the invitation; accepting it joins the organization and signs in.
      await theirs.goto(`${e2e.web.url}/login`);
      await theirs.getByTestId('login-email').fill(member.email);
      await theirs.getByTestId('login-password').fill(member.password);
      await theirs.getByTestId('login-submit').click();
      await theirs.getByTestId('login-invitations').waitFor();
      await theirs.getByTestId('login-accept-invitation').click();
      await theirs.waitForURL((u) => u.pathname === '/runs');
      await theirs.getByTestId('who').waitFor();
      expect(await theirs.getByTestId('role').innerText()).toMatch(/viewer/i);
      // A viewer may see the members, not change them, and is not offered keys or the audit log.
      expect(await theirs.getByTestId('nav-api-keys').count()).toBe(0);
      expect(await theirs.getByTestId('nav-audit').count()).toBe(0);
      await theirs.getByTestId('nav-members').click();
      await theirs.getByTestId('member-row').and(theirs.locator(`[data-email="${member.email}"]`)).waitFor();
      expect(await theirs.getByTestId('member-add-form').count()).toBe(0);
      expect(await theirs.getByTestId('member-remove').count()).toBe(0);
    } finally {
      await other.close();
    }
  });

  it('shows what happened in the audit log, and filters it by action', async () => {
    const { page } = e2e;
    // Something to find: a key made and revoked through the API by another admin.
    const other = await e2e.apiSession(tenantId, 'admin');
    const made = await e2e.api$<{ apiKey: { id: string } }>(other, '/api/api-keys', { body: { name: 'audited', scopes: ['workflow.read'] }, expect: 201 });
    await e2e.api$(other, `/api/api-keys/${made.apiKey.id}`, { method: 'DELETE' });

    await e2e.signIn(admin);
    await navLink(page, 'audit').click();
    await page.waitForURL((u) => u.pathname === '/audit');
    const rows = (action: string) => page.getByTestId('audit-row').and(page.locator(`[data-action="${action}"]`));
    for (const action of ['apikey.create', 'apikey.revoke', 'auth.login']) await rows(action).first().waitFor();

    await page.getByTestId('audit-action').fill('apikey.revoke');
    await page.getByTestId('audit-apply').click();
    await page.waitForURL((u) => u.searchParams.get('action') === 'apikey.revoke');
    await expect.poll(() => page.getByTestId('audit-row').evaluateAll((els) => [...new Set(els.map((e) => e.getAttribute('data-action')))])).toEqual(['apikey.revoke']);
  });
});
