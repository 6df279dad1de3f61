import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignedIn } from '../../test/platform';
import { waitForRun } from '../../test/runs';
import { setupE2e } from './harness';

interface StartedRun {
  workflowId: string;
  runId: string;
}

/** Selecting runs on the list and acting on them together; the time range filter. */
describe('bulk actions and the time range on the runs list', () => {
  const e2e = setupE2e();
  let tenant: string;
  let api: SignedIn;
  let users: Record<'operator' | 'viewer', { email: string; password: string }>;
  let sleepers: StartedRun[] = [];

  beforeAll(async () => {
    tenant = (await e2e.p.createTenant()).id;
    api = await e2e.apiSession(tenant);
    users = { operator: await e2e.createUser(tenant, 'operator'), viewer: await e2e.createUser(tenant, 'viewer') };
    const start = () => e2e.api$<StartedRun>(api, '/api/runs', { body: { operation: 'system.noop', input: { sleepSeconds: 300 } }, expect: 201 });
    sleepers = [await start(), await start()];
  });

  afterAll(async () => {
    for (const r of sleepers) await e2e.p.temporal.workflow.getHandle(r.workflowId).terminate('e2e cleanup').catch(() => undefined);
  });

  const row = (page: Page, r: StartedRun) => page.getByTestId('run-row').filter({ hasText: r.workflowId }).first();

  /** Runs appear in the list once Temporal's visibility has them; the list refreshes itself. */
  async function waitForRunRows(page: Page, runs: StartedRun[]) {
    for (const r of runs) await row(page, r).waitFor({ timeout: 20_000 });
  }

  it('a viewer sees no checkboxes or bulk actions, and the time range narrows the list', async () => {
    const { page } = e2e;
    await e2e.signIn(users.viewer);
    await waitForRunRows(page, sleepers);
    expect(await page.getByTestId('run-select').count()).toBe(0);
    expect(await page.getByTestId('run-select-all').count()).toBe(0);
    expect(await page.locator('[data-testid^="bulk-"]').count()).toBe(0);

    // Started after a time still to come: nothing, and the filter is in the URL.
    await page.getByTestId('filter-from').fill('2999-01-01T00:00');
    await page.waitForURL((u) => u.searchParams.has('from'));
    await page.getByText('No runs match these filters').waitFor();
    expect(new Date(new URL(page.url()).searchParams.get('from')!).getFullYear()).toBe(2999);
    // Started before then: both again.
    await page.goto(e2e.url(`/runs?to=${encodeURIComponent('2999-01-01T00:00:00.000Z')}`));
    await waitForRunRows(page, sleepers);
    expect(await page.getByTestId('filter-to').inputValue()).toMatch(/^299[89]-/);
  });

  it('an operator cancels two running runs at once', async () => {
    const { page } = e2e;
    await e2e.signIn(users.operator);
    await waitForRunRows(page, sleepers);
    for (const r of sleepers) await row(page, r).getByTestId('run-select').check();
    // Still selected after the list refreshed itself (every 4 s).
    await page.waitForTimeout(4500);
    await page.getByTestId('bulk-count').filter({ hasText: '2 selected' }).waitFor();
    expect(await page.getByTestId('bulk-cancel').innerText()).toContain('(2)');
    expect(await page.getByTestId('bulk-retry').isDisabled()).toBe(true);

    await page.getByTestId('bulk-cancel').click();
    expect(await page.getByTestId('bulk-result').innerText()).toBe('Cancelled 2');
    for (const r of sleepers) expect(await waitForRun(e2e.p, r.workflowId)).toBe('CANCELLED');
    for (const r of sleepers) {
      await expect
        .poll(async () => (await e2e.api$<{ status: string }>(api, `/api/runs/${encodeURIComponent(r.workflowId)}`)).status, { timeout: 15_000 })
        .toBe('Canceled');
    }
  });
});
