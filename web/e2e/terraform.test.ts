import { startTestSim, type TestSim } from '@keelson/proxmox-sim/testing';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSimCluster, simVms, tofuToolchain, type TofuToolchain } from '../../test/terraform-harness';
import { navLink, saveScreenshot, setupE2e } from './harness';

/**
 * Terraform in the browser: an operator creates a stack on infra/terraform/proxmox-vm, plans,
 * reads the diff (the secret masked), approves, and sees the outputs of the VM it made on the
 * Proxmox simulator, through the real tofu with state in Postgres.
 */
describe('Terraform stacks in the browser', () => {
  let toolchain: TofuToolchain;
  const e2e = setupE2e({
    coreWorkerOptions: async () => {
      toolchain = await tofuToolchain();
      return { terraform: { binary: toolchain.binary, cliConfigFile: toolchain.cliConfigFile, workDir: join(toolchain.dir, 'work') } };
    },
  });
  let sim: TestSim;
  let operator: { email: string; password: string };
  const SECRET = `pw-${randomBytes(8).toString('hex')}`;
  const stackName = `web-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    sim = await startTestSim({ timeScale: 0.01 });
    const tenantId = (await e2e.p.createTenant()).id;
    await addSimCluster(e2e.p, tenantId, sim);
    operator = await e2e.createUser(tenantId, 'operator');
  });
  afterAll(async () => {
    await sim?.dispose();
    if (toolchain) await rm(toolchain.dir, { recursive: true, force: true });
  });

  it('creates a stack on proxmox-vm, plans, shows the diff with the secret masked, approves and shows the outputs', { timeout: 240_000 }, async () => {
    const { page } = e2e;
    await e2e.signIn(operator);
    await navLink(page, 'terraform').click();
    await page.waitForURL((u) => u.pathname === '/terraform');

    await page.getByTestId('stack-new').click();
    await page.getByTestId('stack-name').fill(stackName);
    await page.getByTestId('stack-module').fill('proxmox-vm');
    await page.getByTestId('stack-cluster').selectOption({ index: 1 });
    await page.getByTestId('variable-value').first().fill('tf-browser');
    for (const [name, value, secret] of [
      ['agent_timeout', '2m', false],
      ['password', SECRET, true],
    ] as const) {
      await page.getByTestId('variable-add').click();
      await page.getByTestId('variable-name').last().fill(name);
      await page.getByTestId('variable-value').last().fill(value);
      if (secret) await page.getByTestId('variable-secret').last().check();
    }
    await page.getByTestId('stack-save').click();
    await page.waitForURL((u) => /^\/terraform\/[0-9a-f-]{36}$/.test(u.pathname));
    // The secret is write-only: the page says it is set, never what it is.
    await expect.poll(() => page.getByTestId('stack-variable').and(page.locator('[data-name="password"]')).innerText()).toMatch(/secret \(set; write-only\)/);

    await page.getByTestId('stack-plan').click();
    await page.waitForURL((u) => u.pathname.startsWith('/terraform/runs/'));
    await page.getByTestId('approval-request').waitFor({ timeout: 120_000 });
    const resource = page.getByTestId('plan-resource');
    expect(await resource.getAttribute('data-address')).toBe('proxmox_virtual_environment_vm.this');
    expect(await resource.getAttribute('data-action')).toBe('create');
    expect(await page.getByTestId('plan-summary').innerText()).toMatch(/1 to add, 0 to change, 0 to replace, 0 to destroy/);
    const attribute = (path: string) => page.getByTestId('plan-attribute').and(page.locator(`[data-path="${path}"]`)).getByTestId('plan-after');
    expect(await attribute('cpu[0].cores').innerText()).toBe('2');
    expect(await attribute('name').innerText()).toBe('"tf-browser"');
    expect(await attribute('initialization[0].user_account[0].password').innerText()).toBe('(sensitive value)');
    expect(await page.content()).not.toContain(SECRET);
    await saveScreenshot(page, 'terraform-plan');

    await page.getByTestId('action-approve').click();
    await page.getByTestId('terraform-state').and(page.locator('[data-state="applied"]')).first().waitFor({ timeout: 120_000 });
    const [vm] = await simVms(sim);
    expect(vm).toMatchObject({ status: 'running', config: { name: 'tf-browser' } });
    await page.getByTestId('run-output').and(page.locator('[data-name="vm_id"]')).waitFor();
    expect(await page.getByTestId('run-output').and(page.locator('[data-name="vm_id"]')).innerText()).toBe(String(vm!.vmid));
    expect(await page.getByTestId('run-output').and(page.locator('[data-name="name"]')).innerText()).toBe('"tf-browser"');
    await saveScreenshot(page, 'terraform-applied');

    // The stack's page shows the current outputs and the applied run.
    await page.locator('a.crumb').click();
    await page.getByTestId('stack-output').and(page.locator('[data-name="vm_id"]')).waitFor();
    expect(await page.getByTestId('stack-output').and(page.locator('[data-name="vm_id"]')).innerText()).toContain(String(vm!.vmid));
    expect(await page.getByTestId('stack-run').first().getAttribute('data-state')).toBe('applied');
    expect(await page.content()).not.toContain(SECRET);
  });
});
