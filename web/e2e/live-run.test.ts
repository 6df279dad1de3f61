import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { waitForRun } from '../../test/runs';
import type { SignedIn } from '../../test/platform';
import { navLink, saveScreenshot, setupE2e, terminalText } from './harness';

interface StartedRun {
  workflowId: string;
  runId: string;
}

const occurrences = (text: string, token: string) => text.split(token).length - 1;

describe('a run page in the browser', () => {
  const e2e = setupE2e();
  let tenantId: string;
  let operator: { email: string; password: string };
  let api: SignedIn;

  beforeAll(async () => {
    tenantId = (await e2e.p.createTenant()).id;
    operator = await e2e.createUser(tenantId, 'operator');
    api = await e2e.apiSession(tenantId);
  });

  async function startWaitingRun(lines: string[]): Promise<StartedRun> {
    return e2e.api$<StartedRun>(api, '/api/runs', { body: { operation: 'system.noop', input: { echo: lines, waitForApproval: true } }, expect: 201 });
  }

  /** Opens a run from the runs list, as a person would (the list refreshes until it shows up). */
  async function openFromRunsList(page: Page, workflowId: string) {
    await navLink(page, 'runs').click();
    const link = page.getByTestId('run-row').filter({ hasText: workflowId }).getByRole('link').first();
    await link.waitFor({ timeout: 20_000 });
    await link.click();
    await page.waitForURL((u) => decodeURIComponent(u.pathname).endsWith(workflowId));
    await page.getByTestId('workflow-id').filter({ hasText: workflowId }).waitFor();
  }

  const indicator = (page: Page) => page.getByTestId('stream-indicator');
  const runStatus = (page: Page) => page.getByTestId('run-status');

  it('follows a run live, says so when the stream drops, and resumes without repeating output', async () => {
    const { page } = e2e;
    const lines = ['first-line-α', 'second-line-β', 'third-line-γ'];
    const run = await startWaitingRun(lines);
    await e2e.signIn(operator);
    await openFromRunsList(page, run.workflowId);

    // Live: the echoed output, the echo step done, the run still going (waiting for approval).
    await expect.poll(() => terminalText(page.getByTestId('run-output')), { timeout: 20_000 }).toContain(lines[2]);
    await expect.poll(() => indicator(page).getAttribute('data-state')).toBe('live');
    expect(await runStatus(page).getAttribute('data-status')).toBe('Running');
    await expect.poll(() => page.getByTestId('run-step').first().getAttribute('data-state')).toBe('completed');
    await saveScreenshot(page, 'run-page-waiting-for-approval');

    // The API goes away: every connection is cut and new ones are refused.
    await e2e.api.stop();
    await expect.poll(() => indicator(page).getAttribute('data-state'), { timeout: 15_000 }).toBe('down');
    expect(await indicator(page).innerText()).toMatch(/Disconnected/);
    await saveScreenshot(page, 'run-page-disconnected');

    // Meanwhile the run goes on: it is approved (in-process, not over the stopped server) and ends.
    const approved = await e2e.api$<{ outcome: string }>(api, `/api/runs/${encodeURIComponent(run.workflowId)}/approval`, {
      body: { decision: 'approve' },
    });
    expect(approved.outcome).toBe('approved');
    expect(await waitForRun(e2e.p, run.workflowId)).toBe('COMPLETED');

    // The API comes back on the same port: the page reconnects on its own and catches up.
    await e2e.api.start();
    await expect.poll(() => indicator(page).getAttribute('data-state'), { timeout: 30_000 }).toBe('ended');
    await expect.poll(() => runStatus(page).getAttribute('data-status'), { timeout: 10_000 }).toBe('Completed');
    const text = await terminalText(page.getByTestId('run-output'));
    for (const line of lines) expect(occurrences(text, line), `"${line}" in:\n${text}`).toBe(1);
    // Finished runs offer "Run again", never Cancel.
    await page.getByTestId('action-rerun').waitFor();
    expect(await page.getByTestId('action-cancel').count()).toBe(0);
  });

  it('shows the runs list with a running and a failed run', async () => {
    const { page } = e2e;
    const waiting = await startWaitingRun(['list-line']);
    const failed = await e2e.api$<StartedRun>(api, '/api/runs', { body: { operation: 'system.noop', input: { failWith: 'on purpose' } }, expect: 201 });
    expect(await waitForRun(e2e.p, failed.workflowId)).toBe('FAILED');
    await e2e.signIn(operator);
    const row = (id: string) => page.getByTestId('run-row').filter({ hasText: id });
    // Visibility is eventually consistent; the list refreshes itself every few seconds.
    await expect.poll(() => row(failed.workflowId).getByTestId('run-status').getAttribute('data-status', { timeout: 1_000 }).catch(() => null), { timeout: 20_000 }).toBe('Failed');
    await expect.poll(() => row(waiting.workflowId).getByTestId('run-status').getAttribute('data-status', { timeout: 1_000 }).catch(() => null), { timeout: 20_000 }).toBe('Running');
    await saveScreenshot(page, 'runs-list');

    // The failed run's page says why, and offers Retry.
    await row(failed.workflowId).getByRole('link').first().click();
    await page.getByTestId('run-error').filter({ hasText: 'on purpose' }).first().waitFor();
    await page.getByTestId('action-retry').waitFor();
    await e2e.api$(api, `/api/runs/${encodeURIComponent(waiting.workflowId)}/terminate`, { body: { reason: 'e2e cleanup' } });
  });
});
