import type { Page } from 'playwright-core';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterBody, startProxmoxForCoreWorker } from '../../test/proxmox-api-fixture';
import type { ProxmoxHarness } from '../../test/proxmox-harness';
import { navLink, saveScreenshot, setupE2e } from './harness';

/**
 * Proxmox in the browser: clusters and guests against the Proxmox simulator, whose guests are
 * Docker containers on a network of their own, run by the platform's core worker.
 */
describe('Proxmox clusters and guests in the browser', () => {
  const e2e = setupE2e();
  let h: ProxmoxHarness;
  let users: Record<'admin' | 'operator' | 'viewer', { email: string; password: string }>;
  const clusterName = `pve-${randomUUID().slice(0, 6)}`;
  const guestName = `web-vm-${randomUUID().slice(0, 6)}`;

  beforeAll(async () => {
    h = await startProxmoxForCoreWorker('web-proxmox');
    const tenantId = (await e2e.p.createTenant()).id;
    users = {
      admin: await e2e.createUser(tenantId, 'admin'),
      operator: await e2e.createUser(tenantId, 'operator'),
      viewer: await e2e.createUser(tenantId, 'viewer'),
    };
  });

  afterAll(async () => {
    await h?.close();
  });

  const fieldError = (page: Page, field: string) => page.getByTestId('field-error').and(page.locator(`[data-field="${field}"]`));
  const guestRow = (page: Page) => page.getByTestId('guest-row').and(page.locator(`[data-name="${guestName}"]`));

  async function openProxmox(page: Page) {
    await navLink(page, 'proxmox').click();
    await page.waitForURL((u) => u.pathname === '/proxmox');
  }

  it('an admin adds a cluster through the form: a wrong token is named at its field, then the right one is checked and stored', async () => {
    const { page } = e2e;
    await e2e.signIn(users.admin);
    await openProxmox(page);
    await page.getByTestId('cluster-add').click();
    const body = clusterBody(h, { name: clusterName });
    await page.getByTestId('cluster-name').fill(body.name);
    await page.getByTestId('cluster-url').fill(body.url);
    await page.getByTestId('cluster-token-id').fill(body.tokenId);
    await page.getByTestId('cluster-token-secret').fill(randomUUID());
    await page.getByTestId('cluster-ca').fill(body.caPem);
    await page.getByTestId('cluster-template').fill(String(body.defaultTemplateVmid));
    await page.getByTestId('cluster-save').click();
    await fieldError(page, 'tokenSecret').waitFor();
    expect(await fieldError(page, 'tokenSecret').innerText()).toMatch(/refused the API token/);
    // The keyboard is taken to the field to fix.
    expect(await page.getByTestId('cluster-token-secret').evaluate((el) => el === el.ownerDocument.activeElement)).toBe(true);
    expect(await page.getByTestId('cluster-row').count()).toBe(0);
    await saveScreenshot(page, 'proxmox-cluster-form-error');

    await page.getByTestId('cluster-token-secret').fill(body.tokenSecret);
    await page.getByTestId('cluster-save').click();
    const row = page.getByTestId('cluster-row').and(page.locator(`[data-name="${clusterName}"]`));
    await row.waitFor();
    expect(await row.getByTestId('cluster-url-cell').innerText()).toBe(new URL(h.sim.url).origin);
    expect(await page.getByTestId('cluster-form').count()).toBe(0);
  });

  it('an operator provisions a VM through the form; the list follows it to running with its address, and its run link works', { timeout: 90_000 }, async () => {
    const { page } = e2e;
    await e2e.signIn(users.operator);
    await openProxmox(page);
    // Operators manage guests, not clusters.
    expect(await page.getByTestId('cluster-add').count()).toBe(0);
    await page.getByTestId('guest-new').click();
    const form = page.getByTestId('guest-form');
    // One cluster: already chosen.
    expect(await form.getByTestId('guest-cluster').inputValue()).not.toBe('');
    await form.getByTestId('guest-name').fill(guestName);
    await form.getByTestId('guest-cores').fill('1');
    await form.getByTestId('guest-memory').fill('512');
    await form.getByTestId('guest-disk').fill('8');
    await form.getByTestId('guest-user').fill('root');
    await form.getByTestId('guest-ssh-keys').fill(`# my laptop\n${h.adminKey.publicKey}\n`);
    await form.getByTestId('guest-create').click();
    await fieldError(page, 'user').waitFor();
    expect(await fieldError(page, 'user').innerText()).toMatch(/root cannot be the admin user/);
    await saveScreenshot(page, 'proxmox-guest-form-error');

    await form.getByTestId('guest-user').fill('alice');
    await form.getByTestId('guest-create').click();
    const started = page.getByTestId('started-run');
    await started.waitFor();
    await guestRow(page).waitFor();

    // No reload: the page refreshes itself while the guest provisions.
    const state = () => guestRow(page).getByTestId('guest-state').getAttribute('data-state');
    await expect.poll(state, { timeout: 60_000, interval: 500 }).toBe('running');
    const ip = (await guestRow(page).getByTestId('guest-ip').innerText()).trim();
    expect(ip.startsWith(`${h.net}.`), ip).toBe(true);
    await saveScreenshot(page, 'proxmox-guests');

    await started.click();
    await page.getByTestId('workflow-id').waitFor();
    expect((await page.getByTestId('workflow-id').innerText()).trim()).toMatch(/^vm\/[0-9a-f-]+\/provision$/);
    await expect.poll(() => page.getByTestId('run-status').first().getAttribute('data-status'), { timeout: 15_000 }).toBe('Completed');
  });

  it('a viewer sees the clusters and guests, without forms or actions', async () => {
    const { page } = e2e;
    await e2e.signIn(users.viewer);
    await openProxmox(page);
    await page.getByTestId('cluster-row').and(page.locator(`[data-name="${clusterName}"]`)).waitFor();
    await guestRow(page).waitFor();
    for (const testid of ['cluster-add', 'cluster-edit', 'cluster-remove', 'guest-new', 'guest-form', 'cluster-form']) {
      expect(await page.getByTestId(testid).count(), testid).toBe(0);
    }
    await guestRow(page).getByTestId('guest-link').click();
    await page.getByTestId('guest-facts').waitFor();
    expect((await page.getByTestId('guest-ip').innerText()).startsWith(`${h.net}.`)).toBe(true);
    for (const testid of ['guest-start', 'guest-stop', 'guest-destroy', 'guest-resize-form', 'guest-snapshot-form', 'guest-backups']) {
      expect(await page.getByTestId(testid).count(), testid).toBe(0);
    }
  });

  it('an operator stops the VM from its page, which follows the run, then destroys it with its name typed', { timeout: 60_000 }, async () => {
    const { page } = e2e;
    await e2e.signIn(users.operator);
    await openProxmox(page);
    await guestRow(page).getByTestId('guest-link').click();
    await page.getByTestId('guest-facts').waitFor();
    const state = () => page.getByTestId('guest-facts').getByTestId('guest-state').getAttribute('data-state');
    expect(await state()).toBe('running');
    const vmid = Number(await page.getByTestId('guest-vmid').innerText());
    await saveScreenshot(page, 'proxmox-guest');
    // On a phone the page stacks its panels: nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    await saveScreenshot(page, 'proxmox-guest-phone');
    await page.setViewportSize({ width: 1400, height: 1000 });

    await page.getByTestId('guest-stop').click();
    const note = page.getByTestId('guest-note').filter({ hasText: `Stopping ${guestName}` });
    await note.waitFor();
    expect(await note.getByTestId('started-run').getAttribute('href')).toMatch(/^\/runs\/vm\//);
    await expect.poll(state, { timeout: 20_000, interval: 300 }).toBe('stopped');
    expect((await h.sim.control.state()).guests.find((g) => g.vmid === vmid)?.status).toBe('stopped');

    await page.getByTestId('guest-destroy').click();
    const confirm = page.getByTestId('destroy-confirm');
    await page.getByTestId('destroy-confirm-name').fill(guestName.slice(0, -1));
    expect(await confirm.isDisabled()).toBe(true);
    await page.getByTestId('destroy-confirm-name').fill(guestName);
    await confirm.click();
    await page.getByTestId('guest-note').filter({ hasText: `Destroying ${guestName}` }).waitFor();
    await expect.poll(state, { timeout: 20_000, interval: 300 }).toBe('destroyed');
    expect((await h.sim.control.state()).guests.some((g) => g.vmid === vmid)).toBe(false);
    expect(await page.getByTestId('guest-destroy').count()).toBe(1);
    expect(await page.getByTestId('guest-destroy').isDisabled()).toBe(true);
  });
});
