import { CaddyProxy } from '@keelson/activities/caddy/proxy';
import { DockerLabel } from '@keelson/common/constants';
import { request as httpRequest } from 'node:http';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCaddy, type TestCaddy } from '../../test/caddy';
import { createSampleApp, SAMPLE_APP_PORT, type SampleApp } from '../../test/sample-app';
import { navLink, saveScreenshot, setupE2e } from './harness';

const suffix = () => Math.random().toString(36).slice(2, 8);

/** Apps in the browser: created through the form, deployed, followed and rolled back, on real Docker and a real Caddy. */
describe('apps in the browser, deployed from a git repository', () => {
  const e2e = setupE2e();
  let caddy: TestCaddy;
  let sample: SampleApp;
  let tenantId: string;
  let nodeId: string;
  let users: Record<'operator' | 'viewer', { email: string; password: string }>;
  /** Made by the first test, looked at by the viewer in the second. */
  let appId: string | undefined;
  const hostname = `shop-${suffix()}.test`;

  beforeAll(async () => {
    caddy = await startCaddy();
    tenantId = (await e2e.p.createTenant()).id;
    const proxy = new CaddyProxy({ adminUrl: caddy.adminUrl, listen: [`127.0.0.1:${caddy.httpPort}`], upstreamsDir: caddy.upstreamsDir });
    nodeId = (await e2e.p.addDockerNode(tenantId, undefined, { proxy })).id;
    users = { operator: await e2e.createUser(tenantId, 'operator'), viewer: await e2e.createUser(tenantId, 'viewer') };
    sample = createSampleApp();
  });

  afterAll(async () => {
    if (tenantId) {
      for (const c of await e2e.p.docker.listContainers({ all: true, filters: { label: [`${DockerLabel.tenant}=${tenantId}`] } })) {
        await e2e.p.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
      }
    }
    await caddy?.stop();
    sample?.remove();
  });

  /** What the node's Caddy answers for the app's hostname (a fresh connection each time). */
  const served = () =>
    new Promise<string>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port: caddy.httpPort, path: '/', headers: { host: hostname }, agent: false, timeout: 3000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(`${res.statusCode} ${body.trim()}`));
        res.on('error', () => resolve('error'));
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', () => resolve('error'));
      req.end();
    });

  const rows = (page: Page, commit: string) => page.getByTestId('release-row').and(page.locator(`[data-commit="${commit}"]`));
  const newestRow = (page: Page) => page.getByTestId('release-row').first();
  /** The release's status as the page shows it; the page refreshes by itself (no reload here). */
  const statusOf = (row: ReturnType<Page['getByTestId']>) => row.getAttribute('data-status');
  const isCurrent = async (row: ReturnType<Page['getByTestId']>) => (await row.getByTestId('release-current').count()) === 1;

  it('creates an app through the form, deploys it, follows its run, deploys again and rolls back', async () => {
    const { page } = e2e;
    const v1 = sample.release('v1');
    await e2e.signIn(users.operator);

    await navLink(page, 'apps').click();
    await page.waitForURL((u) => u.pathname === '/apps');
    await page.getByTestId('app-new').click();
    await page.waitForURL((u) => u.pathname === '/apps/new');

    const name = `shop-${suffix()}`;
    await page.getByTestId('app-name').fill(name);
    await page.getByTestId('app-repo').fill(sample.repoUrl);
    await page.getByTestId('app-node').selectOption(nodeId);
    // A hostname the API refuses first: its message lands at the hostname field.
    await page.getByTestId('app-hostname').fill('not_a_host');
    await page.getByTestId('app-port').fill(String(SAMPLE_APP_PORT));
    await page.getByTestId('app-health-path').fill('/health');
    await page.getByTestId('app-health-timeout').fill('20');
    await page.getByTestId('app-health-passes').fill('1');
    // Short rollouts keep the test quick: the watch and drain are what take time otherwise.
    await page.getByTestId('app-watch').fill('1');
    await page.getByTestId('app-drain').fill('0');
    await page.getByTestId('app-env-key').fill('GREETING');
    await page.getByTestId('app-env-value').fill('hello');
    await page.getByTestId('app-save').click();
    const hostnameError = page.getByTestId('field-error').and(page.locator('[data-field="hostname"]'));
    await hostnameError.waitFor();
    expect(await hostnameError.innerText()).toMatch(/hostname/);
    expect(new URL(page.url()).pathname).toBe('/apps/new');

    await page.getByTestId('app-hostname').fill(hostname);
    await page.getByTestId('app-save').click();

    // The secret, once, with both webhook URLs.
    const dialog = page.getByTestId('webhook-secret-dialog');
    await dialog.waitFor();
    expect(await dialog.getByTestId('webhook-secret').innerText()).toMatch(/^whsec_\S{20,}$/);
    const github = await dialog.getByTestId('webhook-url-github').innerText();
    const gitlab = await dialog.getByTestId('webhook-url-gitlab').innerText();
    expect(github).toMatch(new RegExp(`^${e2e.web.url}/api/webhooks/github/[0-9a-f-]{36}$`));
    appId = github.split('/').pop()!;
    expect(gitlab).toBe(`${e2e.web.url}/api/webhooks/gitlab/${appId}`);
    await dialog.getByTestId('webhook-secret-done').click();
    await page.waitForURL((u) => u.pathname === `/apps/${appId}`);
    await page.getByTestId('nothing-serving').waitFor();
    // The secret is not on the app's page: only the URLs.
    expect(await page.getByTestId('webhook-secret').count()).toBe(0);
    expect(await page.getByTestId('app-settings').innerText()).toContain('GREETING');

    // An edit that leaves the variables alone keeps them (their values are never shown to retype).
    await page.getByTestId('app-edit').click();
    await page.waitForURL((u) => u.pathname === `/apps/${appId}/edit`);
    expect(await page.getByTestId('app-env-note').getAttribute('data-state')).toBe('keep');
    expect(await page.getByTestId('app-env-key').inputValue()).toBe('GREETING');
    await page.getByTestId('app-health-timeout').fill('30');
    await page.getByTestId('app-save').click();
    await page.waitForURL((u) => u.pathname === `/apps/${appId}`);
    await expect.poll(() => page.getByTestId('app-settings').innerText()).toContain('within 30 s');
    const stored = await e2e.api$<{ envKeys: string[]; healthCheck: { timeoutSeconds: number } }>(await e2e.apiSession(tenantId, 'viewer'), `/api/apps/${appId}`);
    expect(stored).toMatchObject({ envKeys: ['GREETING'], healthCheck: { timeoutSeconds: 30 } });

    // First deploy, of an exact commit; the page follows it to live by itself.
    await page.getByTestId('deploy-commit').fill(v1);
    await page.getByTestId('deploy').click();
    await page.getByTestId('deploy-queued').waitFor();
    const first = rows(page, v1).first();
    await first.waitFor({ timeout: 10_000 });
    await expect.poll(() => statusOf(first), { timeout: 60_000 }).toBe('live');
    await expect.poll(() => isCurrent(first), { timeout: 10_000 }).toBe(true);
    await expect.poll(served, { timeout: 10_000 }).toBe('200 v1');
    expect(await page.getByTestId('current-release').innerText()).toContain(v1.slice(0, 7));
    const firstId = await first.getAttribute('data-id');

    // Its run page, once the deploy is over (the watch ends it), and back.
    await expect.poll(() => first.locator('[data-testid="release-status"] .pulse').count(), { timeout: 20_000 }).toBe(0);
    await first.getByTestId('release-run-link').click();
    await page.getByTestId('workflow-id').filter({ hasText: `deploy/${appId}/${firstId}` }).waitFor();
    await expect.poll(() => page.getByTestId('run-status').getAttribute('data-status'), { timeout: 15_000 }).toBe('Completed');
    // The run page reloads the run when its stream ends; going back only after that keeps the two
    // navigations from racing.
    await expect.poll(() => page.getByTestId('stream-indicator').getAttribute('data-state'), { timeout: 15_000 }).toBe('ended');
    await page.goBack();
    await page.waitForURL((u) => u.pathname === `/apps/${appId}`);

    // A second commit, deployed as the branch head.
    const v2 = sample.release('v2');
    await page.getByTestId('deploy').click();
    const second = rows(page, v2).first();
    await second.waitFor({ timeout: 15_000 });
    await expect.poll(() => statusOf(second), { timeout: 60_000 }).toBe('live');
    await expect.poll(() => isCurrent(second), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => statusOf(rows(page, v1).first()), { timeout: 10_000 }).toBe('retired');
    await expect.poll(served, { timeout: 10_000 }).toBe('200 v2');
    // Only the retired release is offered as a rollback target.
    await expect.poll(() => page.getByTestId('release-rollback').count(), { timeout: 10_000 }).toBe(1);
    expect(await second.getByTestId('release-rollback').count()).toBe(0);

    // Roll back to the first: a new release of its image goes live.
    await rows(page, v1).first().getByTestId('release-rollback').click();
    await page.getByTestId('release-rollback-confirm').click();
    await page.getByTestId('deploy-queued').filter({ hasText: 'Rollback' }).waitFor();
    await expect.poll(() => rows(page, v1).count(), { timeout: 10_000 }).toBe(2);
    const rollback = newestRow(page);
    expect(await rollback.getAttribute('data-commit')).toBe(v1);
    expect(await rollback.innerText()).toMatch(/Rollback/);
    await expect.poll(() => statusOf(rollback), { timeout: 60_000 }).toBe('live');
    await expect.poll(() => isCurrent(rollback), { timeout: 10_000 }).toBe(true);
    await expect.poll(served, { timeout: 10_000 }).toBe('200 v1');
    await expect.poll(() => statusOf(second), { timeout: 10_000 }).toBe('retired');
    // Every deploy finished: nothing pulses any more.
    await expect.poll(() => page.locator('[data-testid="release-status"] .pulse').count(), { timeout: 20_000 }).toBe(0);
    await saveScreenshot(page, 'app-page-releases');

    // At phone width the page still fits: wide tables scroll inside their card.
    await page.setViewportSize({ width: 390, height: 900 });
    // A string expression: it runs in the page, which has the DOM these tests' types do not.
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    await saveScreenshot(page, 'app-page-phone');

    // The list shows it serving the rolled-back commit.
    await page.setViewportSize({ width: 1400, height: 1000 });
    await navLink(page, 'apps').click();
    const listed = page.getByTestId('app-row').and(page.locator(`[data-name="${name}"]`));
    await listed.waitFor();
    expect(await listed.innerText()).toContain(hostname);
    expect(await listed.getByTestId('app-current-release').innerText()).toContain(v1.slice(0, 7));
  }, 120_000);

  it('a viewer sees the app and its releases, and none of the controls', async () => {
    expect(appId, 'the app made by the test above').toBeDefined();
    const { page } = e2e;
    await e2e.signIn(users.viewer);
    await navLink(page, 'apps').click();
    await page.getByTestId('app-row').first().waitFor();
    expect(await page.getByTestId('app-new').count()).toBe(0);

    await page.getByTestId('app-link').first().click();
    await page.waitForURL((u) => u.pathname === `/apps/${appId}`);
    await expect.poll(() => page.getByTestId('release-row').count()).toBe(3);
    expect(await page.getByTestId('current-release').innerText()).toMatch(/Live/);
    for (const control of ['deploy-form', 'deploy', 'release-rollback', 'app-edit', 'webhook-rotate']) {
      expect(await page.getByTestId(control).count(), control).toBe(0);
    }
    // The webhook URLs are there to read; the secret never is.
    expect(await page.getByTestId('app-webhook-github').innerText()).toContain(`/api/webhooks/github/${appId}`);

    // The edit page says no rather than offering a form.
    await page.goto(e2e.url(`/apps/${appId}/edit`));
    await page.getByText('Your role cannot change apps').waitFor();
    expect(await page.getByTestId('app-form').count()).toBe(0);
  });
});
