import { deleteMonitoringSchedules, ensureMonitoringSchedules } from '@keelson/activities';
import { encryptSecret } from '@keelson/common/codec';
import { guests, proxmoxClusters } from '@keelson/db/schema';
import { loadControl, MemoryGuests, startProxmoxSim, type ProxmoxSim } from '@keelson/proxmox-sim';
import type { Page } from 'playwright-core';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_KEYS } from '../../test/platform';
import { waitForRun } from '../../test/runs';
import { until } from '../../test/worker-process';
import { IMAGE, saveScreenshot, setupE2e } from './harness';

/**
 * Charts with real data in the browser: a guest of the Proxmox simulator (its load set through
 * the simulator's control API) and a busybox container on the local Docker engine, collected by
 * the real collection Schedule every second, drawn by uPlot in Chromium, moving while open.
 */
describe('metrics charts in the browser', () => {
  const e2e = setupE2e();
  const TOKEN_ID = 'root@pam!keelson';
  let sim: ProxmoxSim;
  let dir: string;
  let tenantId: string;
  let guestId: string;
  let containerId: string;
  let viewer: { email: string; password: string };

  beforeAll(async () => {
    tenantId = (await e2e.p.createTenant()).id;
    viewer = await e2e.createUser(tenantId, 'viewer');
    dir = await mkdtemp(join(tmpdir(), 'keelson-e2e-monitoring-'));
    sim = await startProxmoxSim({ stateDir: join(dir, 'sim'), timeScale: 0, tokens: [{ tokenid: TOKEN_ID }], guests: new MemoryGuests() });
    const [cluster] = await e2e.p.db
      .insert(proxmoxClusters)
      .values({ tenantId, name: 'pve-charts', url: sim.url, tokenId: TOKEN_ID, tokenSecretSealed: encryptSecret(TEST_KEYS, sim.tokens[0]!.secret), caPem: sim.caPem })
      .returning({ id: proxmoxClusters.id });
    const pve = async (method: string, path: string, params: Record<string, string> = {}) => {
      const res = await sim.fetch(`${sim.url}/api2/json${path}`, {
        method,
        headers: { authorization: `PVEAPIToken=${TOKEN_ID}=${sim.tokens[0]!.secret}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(params),
      });
      if (!res.ok) throw new Error(`${path}: ${res.status}`);
    };
    await pve('POST', '/nodes/pve/qemu/9000/clone', { newid: '120', name: 'charts-vm' });
    await sim.control.waitIdle();
    await pve('POST', '/nodes/pve/qemu/120/status/start');
    await sim.control.waitIdle();
    const [guest] = await e2e.p.db
      .insert(guests)
      .values({ tenantId, clusterId: cluster!.id, kind: 'qemu', name: 'charts-vm', vmid: 120, node: 'pve', cores: 1, memoryMiB: 2048, adminUser: 'ops', state: 'running', workflowId: 'vm/charts/provision' })
      .returning({ id: guests.id });
    guestId = guest!.id;

    const node = await e2e.p.addDockerNode(tenantId);
    const admin = await e2e.apiSession(tenantId, 'admin');
    const blueprint = await e2e.api$<{ id: string }>(admin, '/api/blueprints', { body: { name: `charts-${randomBytes(2).toString('hex')}`, image: IMAGE, command: ['sh', '-c', 'while true; do :; done'] }, expect: 201 });
    const created = await e2e.api$<{ container: { id: string }; run: { workflowId: string } }>(admin, '/api/containers', {
      body: { name: `charts-${randomBytes(3).toString('hex')}`, nodeId: node.id, blueprintId: blueprint.id, logCaptureSeconds: 0 },
      expect: 201,
    });
    containerId = created.container.id;
    expect(await waitForRun(e2e.p, created.run.workflowId)).toBe('COMPLETED');
    await ensureMonitoringSchedules(e2e.p.temporal, { coreTaskQueue: e2e.p.coreTaskQueue, collectEveryMs: 1000, evaluateEveryMs: 5000, nodeTimeoutMs: 3000 });
  }, 180_000);

  afterAll(async () => {
    await deleteMonitoringSchedules(e2e.p.temporal, e2e.p.coreTaskQueue).catch(() => undefined);
    if (containerId) {
      const left = await e2e.p.docker.listContainers({ all: true, filters: { label: [`io.keelson.container=${containerId}`] } });
      for (const c of left) await e2e.p.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    }
    await sim?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const latestCpu = async (page: Page) =>
    Number.parseFloat((await page.locator('[data-testid="metric-chart"][data-title="CPU"] [data-testid="chart-latest"]').first().innerText().catch(() => '')) || '0');

  /** The chart titled `title` once it holds at least `min` points. */
  async function chart(page: Page, title: string, min = 2) {
    const figure = page.locator(`[data-testid="metric-chart"][data-title="${title}"]`);
    await until(`${min} points on the ${title} chart`, async () => Number((await figure.getAttribute('data-points').catch(() => null)) ?? 0) >= min);
    // uPlot drew on its canvas: a canvas of the chart's size is there.
    const canvas = figure.locator('canvas');
    expect(await canvas.count()).toBeGreaterThan(0);
    expect((await canvas.first().boundingBox())!.width).toBeGreaterThan(100);
    return figure;
  }

  it("a guest's page charts its CPU and memory, and follows a load pushed on the simulator", { timeout: 120_000 }, async () => {
    const { page } = e2e;
    await e2e.signIn(viewer);
    await page.goto(e2e.url(`/proxmox/guests/${guestId}`));
    await page.getByTestId('resource-charts').waitFor();
    await chart(page, 'CPU', 3);
    const memory = await chart(page, 'Memory', 3);
    // Used without the page cache, and the cache beside it (read through the guest agent).
    expect(await memory.innerText()).toMatch(/used[\s\S]*page cache/);

    await loadControl(sim).set(120, { cpu: 0.9 });
    await until('the CPU chart at the load set', async () => (await latestCpu(page)) >= 85, 30_000);
    await saveScreenshot(page, 'monitoring-guest-charts');
  });

  it("a container's page charts what Docker stats says about it", { timeout: 120_000 }, async () => {
    const { page } = e2e;
    await e2e.signIn(viewer);
    await page.goto(e2e.url(`/containers/${containerId}`));
    await page.getByTestId('resource-charts').waitFor();
    const cpu = await chart(page, 'CPU', 3);
    await chart(page, 'Memory', 3);
    await chart(page, 'Network', 2);
    // A shell spinning in a loop keeps a CPU busy: far above nothing.
    await until('a busy CPU on the chart', async () => (await latestCpu(page)) > 5, 30_000);
    expect(await cpu.getByTestId('chart-latest').innerText()).toMatch(/%$/);
    await saveScreenshot(page, 'monitoring-container-charts');
  });

  it('an operator creates a rule in its form, and acknowledges the alert it raises with a comment', { timeout: 120_000 }, async () => {
    const { page } = e2e;
    const operator = await e2e.createUser(tenantId, 'operator');
    await loadControl(sim).set(120, { cpu: 0.9 });
    await e2e.signIn(operator);
    await page.goto(e2e.url('/alerts'));
    const name = `CPU busy ${randomBytes(2).toString('hex')}`;
    await page.getByTestId('rule-new').click();
    const form = page.getByTestId('rule-form');
    await form.getByTestId('rule-name').fill(name);
    await form.getByTestId('rule-metric').selectOption('cpu_percent');
    await form.getByTestId('rule-scope-type').selectOption('resource');
    await form.getByTestId('rule-scope-resource').selectOption({ label: 'charts-vm (guest)' });
    await form.getByTestId('rule-threshold').fill('50');
    await form.getByTestId('rule-clear-threshold').fill('30');
    // A wrong address is named at its field, and nothing is created.
    await form.getByTestId('rule-emails').fill('oncall@hoster.test, not-an-address');
    await form.getByTestId('rule-save').click();
    await form.locator('[data-testid="field-error"][data-field="emails"]').or(form.locator('[data-testid="field-error"][data-field^="emails."]')).first().waitFor();
    await form.getByTestId('rule-emails').fill('oncall@hoster.test');
    await form.getByTestId('rule-for').fill('0');
    await form.getByTestId('rule-severity').selectOption('critical');
    await form.getByTestId('rule-save').click();
    await form.waitFor({ state: 'detached' });
    const row = page.locator(`[data-testid="rule-row"][data-rule="${name}"]`);
    expect(await row.innerText()).toMatch(/cpu_percent > 50 \(clears 30\) for 0s\s+charts-vm\s+critical\s+oncall@hoster\.test/);

    // The next evaluation fires it (90 % > 50 %); the history shows it with its Acknowledge button.
    const alertRow = page.getByTestId('alert-row').filter({ hasText: 'charts-vm: cpu_percent' });
    await alertRow.locator('[data-testid="alert-acknowledge"]').waitFor({ timeout: 60_000 });
    await alertRow.getByTestId('alert-acknowledge').click();
    const dialog = page.getByTestId('acknowledge-form');
    await dialog.getByTestId('acknowledge-comment').fill('looking at the runaway process');
    await dialog.getByTestId('acknowledge-confirm').click();
    await dialog.waitFor({ state: 'detached' });
    await until('the alert shown acknowledged', async () => (await alertRow.getAttribute('data-state')) === 'acknowledged', 15_000);
    // Named as people know them, not by their user id.
    expect(await alertRow.innerText()).toContain(`acknowledged by operator (${operator.email})`);
    expect(await alertRow.innerText()).toContain('looking at the runaway process');
    await saveScreenshot(page, 'monitoring-alert-acknowledged');
    await loadControl(sim).set(120, null);
  });

  it('the overview lists the busiest resources, the spinning container among them', { timeout: 60_000 }, async () => {
    const { page } = e2e;
    await e2e.signIn(viewer);
    await page.goto(e2e.url('/'));
    await page.waitForURL((u) => u.pathname === '/overview');
    await page.getByTestId('overview-busiest').getByTestId('busy-row').first().waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('overview-busiest').innerText()).toMatch(/charts-/);
    await saveScreenshot(page, 'monitoring-overview');
  });
});
