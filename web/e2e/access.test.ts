import { DockerLabel } from '@keelson/common/constants';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignedIn } from '../../test/platform';
import { waitForRun } from '../../test/runs';
import { features } from './features';
import { IMAGE, navLink, setupE2e } from './harness';

interface StartedRun {
  workflowId: string;
  runId: string;
}

/** What each role may see and do, and what another organization never sees. */
describe('roles and organizations in the browser', () => {
  const e2e = setupE2e();
  let tenantA: string;
  let tenantB: string;
  let apiA: SignedIn;
  let users: Record<'operatorA' | 'viewerA' | 'operatorB', { email: string; password: string }>;
  let failedRun: StartedRun;
  let waitingRun: StartedRun;
  let containerRun: StartedRun;
  const containerName = `shared-${Math.random().toString(36).slice(2, 8)}`;

  const runUrl = (r: StartedRun) => `/runs/${r.workflowId}`;

  beforeAll(async () => {
    tenantA = (await e2e.p.createTenant()).id;
    tenantB = (await e2e.p.createTenant()).id;
    apiA = await e2e.apiSession(tenantA);
    const nodeId = (await e2e.p.addDockerNode(tenantA)).id;
    users = {
      operatorA: await e2e.createUser(tenantA, 'operator'),
      viewerA: await e2e.createUser(tenantA, 'viewer'),
      operatorB: await e2e.createUser(tenantB, 'operator'),
    };
    const start = (input: Record<string, unknown>) => e2e.api$<StartedRun>(apiA, '/api/runs', { body: { operation: 'system.noop', input }, expect: 201 });
    failedRun = await start({ echo: ['about to fail'], failWith: 'on purpose' });
    waitingRun = await start({ echo: ['waiting'], waitForApproval: true });
    const bp = await e2e.api$<{ id: string }>(apiA, '/api/blueprints', {
      body: { name: `bp-${containerName}`, image: IMAGE, command: ['sh', '-c', 'exec sleep 3600'] },
      expect: 201,
    });
    containerRun = (
      await e2e.api$<{ run: StartedRun }>(apiA, '/api/containers', { body: { name: containerName, nodeId, blueprintId: bp.id, logCaptureSeconds: 0 }, expect: 201 })
    ).run;
    expect(await waitForRun(e2e.p, failedRun.workflowId)).toBe('FAILED');
    expect(await waitForRun(e2e.p, containerRun.workflowId)).toBe('COMPLETED');
  });

  afterAll(async () => {
    if (waitingRun) await e2e.p.temporal.workflow.getHandle(waitingRun.workflowId).terminate('e2e cleanup').catch(() => undefined);
    if (!tenantA) return;
    for (const c of await e2e.p.docker.listContainers({ all: true, filters: { label: [`${DockerLabel.tenant}=${tenantA}`] } })) {
      await e2e.p.docker.getContainer(c.Id).remove({ force: true });
    }
  });

  async function openRun(page: Page, run: StartedRun, status: string) {
    await page.goto(e2e.url(runUrl(run)));
    await page.getByTestId('workflow-id').filter({ hasText: run.workflowId }).waitFor();
    await expect.poll(() => page.getByTestId('run-status').getAttribute('data-status'), { timeout: 15_000 }).toBe(status);
    // The stream has caught up (the echoed line is on screen) before anything is judged absent.
    await page.getByTestId('stream-indicator').and(page.locator('[data-state="live"], [data-state="ended"]')).waitFor();
  }

  const actionButtons = (page: Page) => page.locator('[data-testid^="action-"]');
  const containerRow = (page: Page) => page.getByTestId('container-row').and(page.locator(`[data-name="${containerName}"]`));

  /** Runs appear in the list once Temporal's visibility has them; the list refreshes itself. */
  async function waitForRunRows(page: Page, runs: StartedRun[]) {
    for (const r of runs) await page.getByTestId('run-row').filter({ hasText: r.workflowId }).first().waitFor({ timeout: 20_000 });
  }

  it('an operator sees the actions (the control for the viewer test below)', async () => {
    const { page } = e2e;
    await e2e.signIn(users.operatorA);
    await page.getByTestId('start-run').waitFor();
    await openRun(page, failedRun, 'Failed');
    await page.getByTestId('action-retry').waitFor();
    await page.getByTestId('action-rerun').waitFor();
    await openRun(page, waitingRun, 'Running');
    await page.getByTestId('action-cancel').waitFor();
    await page.getByTestId('action-terminate').waitFor();
    await page.getByTestId('action-approve').waitFor();
    await page.getByTestId('action-reject').waitFor();
    await navLink(page, 'containers').click();
    await containerRow(page).waitFor();
    expect(await containerRow(page).getByRole('button').count()).toBeGreaterThanOrEqual(4);
    await page.getByTestId('container-create-form').waitFor();
    if (features.terminal) await containerRow(page).getByTestId('open-terminal').waitFor();
  });

  it('a viewer sees runs and containers but nothing that would change them', async () => {
    const { page } = e2e;
    await e2e.signIn(users.viewerA);
    expect(await page.getByTestId('role').innerText()).toMatch(/viewer/i);
    await waitForRunRows(page, [failedRun, waitingRun, containerRun]);
    expect(await page.getByTestId('start-run').count()).toBe(0);

    await openRun(page, failedRun, 'Failed');
    await page.getByTestId('run-error').first().waitFor();
    expect(await page.getByTestId('run-actions').count()).toBe(0);
    expect(await actionButtons(page).count()).toBe(0);

    await openRun(page, waitingRun, 'Running');
    // The viewer is told what the run waits for, but is offered no way to answer.
    expect(await page.getByTestId('approval-prompt').innerText()).toMatch(/diagnostic run/);
    expect(await actionButtons(page).count()).toBe(0);
    expect(await page.getByTestId('approval-comment').count()).toBe(0);

    await navLink(page, 'containers').click();
    await containerRow(page).getByTestId('container-state').and(page.locator('[data-state="running"]')).waitFor();
    expect(await containerRow(page).getByRole('button').count()).toBe(0);
    expect(await containerRow(page).getByTestId('open-terminal').count()).toBe(0);
    expect(await page.getByTestId('container-create-form').count()).toBe(0);
  });

  it('an operator approves a waiting run, and rejects another with a reason, from the run page', async () => {
    const { page } = e2e;
    const other = await e2e.api$<StartedRun>(apiA, '/api/runs', { body: { operation: 'system.noop', input: { waitForApproval: true } }, expect: 201 });
    await e2e.signIn(users.operatorA);

    await openRun(page, waitingRun, 'Running');
    await page.getByTestId('approval-comment').fill('checked the output');
    await page.getByTestId('action-approve').click();
    await expect.poll(() => page.getByTestId('run-status').getAttribute('data-status'), { timeout: 15_000 }).toBe('Completed');
    expect(await page.getByTestId('approval-request').count()).toBe(0);
    await expect.poll(() => page.getByTestId('approval-decision').innerText()).toMatch(/Approved by user:\S+: “checked the output”/);

    await openRun(page, other, 'Running');
    await page.getByTestId('approval-comment').fill('wrong window');
    await page.getByTestId('action-reject').click();
    await expect.poll(() => page.getByTestId('run-status').getAttribute('data-status'), { timeout: 15_000 }).toBe('Failed');
    await expect.poll(() => page.getByTestId('run-error').first().innerText()).toMatch(/rejected by user:\S+: wrong window/);
    expect(await page.getByTestId('approval-decision').innerText()).toMatch(/Rejected by/);
    const admin = await e2e.apiSession(tenantA, 'admin');
    const audit = await e2e.api$<{ items: Array<{ action: string; resourceId: string; details: unknown }> }>(admin, '/api/audit?resourceType=run');
    expect(audit.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'run.approve', resourceId: waitingRun.workflowId, details: expect.objectContaining({ comment: 'checked the output' }) }),
        expect.objectContaining({ action: 'run.reject', resourceId: other.workflowId, details: expect.objectContaining({ comment: 'wrong window' }) }),
      ]),
    );
  });

  it("another organization's user never sees the first organization's runs or containers", async () => {
    const { page } = e2e;
    // B has a run of its own, so its list is shown (not just empty) when A's are checked for.
    const apiB = await e2e.apiSession(tenantB);
    const own = await e2e.api$<StartedRun>(apiB, '/api/runs', { body: { operation: 'system.noop', input: {} }, expect: 201 });
    await e2e.signIn(users.operatorB);
    await waitForRunRows(page, [own]);
    const listed = await page.getByTestId('runs-table').innerText();
    for (const r of [failedRun, waitingRun, containerRun]) expect(listed).not.toContain(r.workflowId);
    expect(await page.getByTestId('run-row').count()).toBe(1);

    await navLink(page, 'containers').click();
    await page.waitForURL((u) => u.pathname === '/containers');
    await page.getByText('No containers yet').waitFor();
    expect(await page.locator('body').innerText()).not.toContain(containerName);

    // A's run, by its URL: not found (not "forbidden", which would say that it exists).
    for (const r of [failedRun, containerRun]) {
      await page.goto(e2e.url(runUrl(r)));
      const alert = page.getByRole('alert');
      await alert.waitFor();
      expect(await alert.innerText()).toMatch(/404[\s\S]*Not found/);
      expect(await page.getByTestId('workflow-id').count()).toBe(0);
    }
  });
});
