/**
 * One browser-test file's world: the real platform (`createTestPlatform()`: its own database,
 * Temporal, in-process workers), the API served over HTTP, the built web app as a child process
 * in front of it, and one Chromium. Each test gets a fresh browser context (no cookies, no
 * storage) and page; a failing test leaves a screenshot in test-artifacts/failures/.
 */
import type { Role } from '@keelson/common/permissions';
import { mkdirSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, inject } from 'vitest';
import { ensureWebBuild, launchChromium, serveApi, signInThroughLoginPage, startWebApp, withNetworkChangeRetry, type ServedApi, type WebApp } from '../../test/e2e-platform';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../test/platform';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** Screenshots and other things a person may want to look at after a run (git-ignored). */
export const ARTIFACTS_DIR = join(root, 'test-artifacts');

export interface E2e {
  p: TestPlatform;
  api: ServedApi;
  web: WebApp;
  browser: Browser;
  /** This test's context and page (fresh for each test). */
  context: BrowserContext;
  page: Page;
  /** A user who can sign in through the login page. */
  createUser(tenantId: string, role: Role): Promise<{ email: string; password: string }>;
  /** Signs `page` in through the login page; ends on /runs. */
  signIn(user: { email: string; password: string }, page?: Page): Promise<void>;
  /** Signs a customer user in through the login page; ends in the portal. */
  signInToPortal(user: { email: string; password: string }, page?: Page): Promise<void>;
  /** A session for calls straight to the API (setup the test is not about). */
  apiSession(tenantId: string, role?: Role): Promise<SignedIn>;
  /** `GET`/`POST` an API path as `who`, throwing on an unexpected status. */
  api$<T = unknown>(who: SignedIn, path: string, init?: { method?: string; body?: unknown; expect?: number }): Promise<T>;
  /** `web.url` + path. */
  url(path: string): string;
}

export interface E2eOptions {
  /** Start the core worker (runs execute); default true. */
  coreWorker?: boolean;
  /** Its options, made when the world is built (e.g. the tofu toolchain for Terraform stacks). */
  coreWorkerOptions?: () => Promise<Parameters<TestPlatform['startCoreWorker']>[0]>;
}

/**
 * Registers the hooks for one file and returns the world they build. Use its fields inside
 * tests and hooks only (they are filled in by `beforeAll`/`beforeEach`).
 */
export function setupE2e(opts: E2eOptions = {}): E2e {
  const world = {} as E2e;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    // One key per test run: global setup writes the workflow bundle afresh for each.
    const build = await ensureWebBuild({ runKey: `${inject('testDbPrefix')}${Math.round(statSync(inject('workflowBundlePath')).mtimeMs)}` });
    world.p = await createTestPlatform();
    if (opts.coreWorker !== false) await world.p.startCoreWorker(await opts.coreWorkerOptions?.());
    // The container terminal's WebSocket handshakes are served by the app on the Node server
    // itself (`injectWebSocket`, once per server: the API is restarted by some tests).
    const app = world.p.app as { injectWebSocket?: (server: Server) => void };
    world.api = await serveApi(world.p.app.fetch, { attach: (server) => app.injectWebSocket?.(server) });
    world.web = await startWebApp({ apiUrl: world.api.url, dir: build.dir });
    world.browser = await launchChromium();
  });

  afterAll(async () => {
    await Promise.allSettled(contexts.map((c) => c.close()));
    await world.browser?.close();
    await world.web?.stop();
    // Upgraded sockets (terminals) are not the HTTP server's to cut.
    await (world.p?.app as { closeTerminals?: () => Promise<void> } | undefined)?.closeTerminals?.();
    await world.api?.stop();
    await world.p?.close();
  });

  /** What went wrong in the browser during the current test, printed when it fails. */
  let browserLog: string[] = [];

  beforeEach(async () => {
    browserLog = [];
    world.context = await world.browser.newContext({ viewport: { width: 1400, height: 1000 } });
    contexts.push(world.context);
    world.context.on('requestfailed', (r) => browserLog.push(`request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
    world.context.on('response', (r) => {
      if (r.status() >= 500) browserLog.push(`${r.status()} ${r.request().method()} ${r.url()}`);
    });
    world.context.on('weberror', (e) => browserLog.push(`page error: ${e.error().message}`));
    world.page = await world.context.newPage();
  });

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') {
      const dir = join(ARTIFACTS_DIR, 'failures');
      mkdirSync(dir, { recursive: true });
      const name = `${ctx.task.file.name.replace(/^.*\//, '').replace(/\.test\.ts$/, '')}--${ctx.task.name}`.replace(/[^\w.-]+/g, '-').slice(0, 150);
      await world.page?.screenshot({ path: join(dir, `${name}.png`), fullPage: true }).catch(() => undefined);
      process.stderr.write(
        `e2e │ failed; screenshot test-artifacts/failures/${name}.png\n` +
          `e2e │ browser:\n${browserLog.join('\n') || '(nothing failed)'}\ne2e │ web app output:\n${world.web?.output() ?? ''}\n`,
      );
    }
    await world.context?.close();
  });

  world.createUser = (tenantId, role) => world.p.createUser({ tenantId, role, password: `e2e ${role} password 1` });
  world.signIn = (user, page = world.page) => signInThroughLoginPage(page, world.web.url, user);
  world.signInToPortal = (user, page = world.page) =>
    withNetworkChangeRetry(page, async () => {
      await page.goto(`${world.web.url}/login`);
      await page.getByTestId('login-email').fill(user.email);
      await page.getByTestId('login-password').fill(user.password);
      await page.getByTestId('login-submit').click();
      await page.waitForURL((u) => u.pathname === '/portal', { timeout: 15_000 });
    });
  world.apiSession = (tenantId, role = 'operator') => world.p.signIn({ tenantId, role });
  world.api$ = async <T,>(who: SignedIn, path: string, init: { method?: string; body?: unknown; expect?: number } = {}) => {
    const res = await world.p.request(path, { method: init.method, headers: who.headers, body: init.body });
    const text = await res.text();
    const wanted = init.expect ?? (res.status >= 200 && res.status < 300 ? res.status : 200);
    if (res.status !== wanted) throw new Error(`${init.method ?? (init.body ? 'POST' : 'GET')} ${path} answered ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  world.url = (path) => `${world.web.url}${path}`;
  return world;
}

/** The text an xterm shows (its visible rows), with xterm's non-breaking spaces made plain. */
export async function terminalText(scope: Locator | Page): Promise<string> {
  const rows = scope.locator('.xterm-rows');
  if ((await rows.count()) === 0) return '';
  return (await rows.first().innerText()).replace(/\u00a0/g, ' ');
}

/** Saves a screenshot under test-artifacts/ and returns its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** A main-navigation link: by the colleagues' `nav-*` test id where it exists, else by its href. */
export function navLink(page: Page, name: 'runs' | 'apps' | 'containers' | 'blueprints' | 'nodes' | 'proxmox' | 'terraform' | 'members' | 'api-keys' | 'audit'): Locator {
  return page.getByTestId(`nav-${name}`).or(page.locator(`header nav a[href="/${name}"]`)).first();
}

export const IMAGE = 'keelson/busybox:latest';
