import { DockerLabel } from '@keelson/common/constants';
import { createServer, type Server } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignedIn } from '../../test/platform';
import { freePort, waitForRun } from '../../test/runs';
import { skipNote } from './features';
import { IMAGE, navLink, saveScreenshot, setupE2e, terminalText } from './harness';

interface BlueprintSpec {
  name: string;
  image: string;
  /** argv; the container runs it as is. */
  command: string[];
  env: Record<string, string>;
  ports: Array<{ container: number; host: number }>;
  cpuLimit: number;
  memoryLimitMb: number;
}

const suffix = () => Math.random().toString(36).slice(2, 8);

describe('containers in the browser, on a real Docker engine', () => {
  const e2e = setupE2e();
  let tenantId: string;
  let nodeId: string;
  let operator: { email: string; password: string };
  let api: SignedIn;

  const dockerContainers = async () => e2e.p.docker.listContainers({ all: true, filters: { label: [`${DockerLabel.tenant}=${tenantId}`] } });
  /** The Docker containers behind the Keelson container called `name`. */
  async function dockerContainersOf(name: string) {
    const { items } = await e2e.api$<{ items: Array<{ id: string; name: string }> }>(api, '/api/containers');
    const id = items.find((c) => c.name === name)?.id;
    expect(id, `container ${name} is listed`).toBeDefined();
    return (await dockerContainers()).filter((c) => c.Labels[DockerLabel.container] === id);
  }

  beforeAll(async () => {
    tenantId = (await e2e.p.createTenant()).id;
    nodeId = (await e2e.p.addDockerNode(tenantId)).id;
    operator = await e2e.createUser(tenantId, 'operator');
    api = await e2e.apiSession(tenantId);
  });

  afterAll(async () => {
    if (!tenantId) return;
    for (const c of await dockerContainers()) await e2e.p.docker.getContainer(c.Id).remove({ force: true });
  });

  async function blueprintSpec(overrides: Partial<BlueprintSpec> = {}): Promise<BlueprintSpec> {
    return {
      name: `bp-${suffix()}`,
      image: IMAGE,
      command: ['sh', '-c', 'echo "ready-$GREETING"; exec httpd -f -p 8080 -h /www'],
      env: { GREETING: 'e2e' },
      ports: [{ container: 8080, host: await freePort() }],
      cpuLimit: 0.5,
      memoryLimitMb: 64,
      ...overrides,
    };
  }

  async function createBlueprintThroughApi(spec: BlueprintSpec): Promise<{ id: string }> {
    return e2e.api$<{ id: string }>(api, '/api/blueprints', { body: spec, expect: 201 });
  }

  /**
   * Through the blueprint form, as a person types it (the command as words with quotes), first
   * with a memory limit the API refuses, to see the error land on its field. Returns the new id.
   */
  async function createBlueprintThroughForm(page: Page, spec: BlueprintSpec): Promise<{ id: string }> {
    await navLink(page, 'blueprints').click();
    await page.waitForURL((u) => u.pathname === '/blueprints');
    await page.getByTestId('blueprint-new').click();
    await page.getByTestId('blueprint-name').fill(spec.name);
    await page.getByTestId('blueprint-image').fill(spec.image);
    const [program, flag, script] = spec.command as [string, string, string];
    await page.getByTestId('blueprint-command').fill(`${program} ${flag} '${script}'`);
    const [port] = spec.ports;
    await page.getByTestId('blueprint-port-container').fill(String(port!.container));
    await page.getByTestId('blueprint-port-host').fill(String(port!.host));
    const [[key, value]] = Object.entries(spec.env) as [[string, string]];
    await page.getByTestId('blueprint-env-key').fill(key);
    await page.getByTestId('blueprint-env-value').fill(value);
    await page.getByTestId('blueprint-cpu').fill(String(spec.cpuLimit));
    await page.getByTestId('blueprint-memory').fill('2');
    await page.getByTestId('blueprint-save').click();
    const memoryError = page.getByTestId('field-error').and(page.locator('[data-field="memoryLimitMb"]'));
    await memoryError.waitFor();
    expect(await memoryError.innerText()).not.toBe('');
    expect(page.url()).toMatch(/\/blueprints\/new$/);

    await page.getByTestId('blueprint-memory').fill(String(spec.memoryLimitMb));
    await page.getByTestId('blueprint-save').click();
    await page.waitForURL((u) => u.pathname === '/blueprints');
    await page.getByTestId('blueprint-row').and(page.locator(`[data-name="${spec.name}"]`)).getByTestId('blueprint-name-cell').waitFor();
    const { items } = await e2e.api$<{ items: Array<{ id: string; name: string; command: string[]; ports: Array<{ host: number }>; envKeys: string[]; memoryLimitMb: number }> }>(
      api,
      '/api/blueprints',
    );
    const saved = items.find((b) => b.name === spec.name);
    expect(saved, `blueprint ${spec.name} saved through the form`).toBeDefined();
    expect(saved).toMatchObject({ command: spec.command, envKeys: [key], memoryLimitMb: spec.memoryLimitMb });
    expect(saved!.ports.map((p) => p.host)).toEqual([port!.host]);
    return saved!;
  }

  /** Fills the create form on the containers page; returns the started run's page link. */
  async function createContainerInPage(page: Page, name: string, blueprintId: string) {
    await navLink(page, 'containers').click();
    await page.waitForURL((u) => u.pathname === '/containers');
    const form = page.getByTestId('container-create-form');
    await form.getByTestId('container-name').fill(name);
    await form.getByTestId('container-node').selectOption(nodeId);
    await form.getByTestId('container-blueprint').selectOption(blueprintId);
    await form.getByTestId('container-create').click();
    const started = page.getByTestId('started-run').filter({ hasText: name });
    await started.waitFor();
    await started.getByRole('link').click();
    await page.getByTestId('workflow-id').waitFor();
    return (await page.getByTestId('workflow-id').innerText()).trim();
  }

  const containerRow = (page: Page, name: string) => page.getByTestId('container-row').and(page.locator(`[data-name="${name}"]`));
  const containerState = (page: Page, name: string) => containerRow(page, name).getByTestId('container-state').getAttribute('data-state');
  const runStatus = (page: Page) => page.getByTestId('run-status').getAttribute('data-status');
  const stepStates = (page: Page) => page.getByTestId('run-step').evaluateAll((els) => els.map((e) => e.getAttribute('data-state')));

  it('creates a container from a blueprint, follows its run live, runs a command in its terminal, and stops it', async () => {
    const { page } = e2e;
    await e2e.signIn(operator);
    const spec = await blueprintSpec();
    // Without the blueprint pages (SKIP.blueprintPages) the blueprint comes from the API.
    const bp = skipNote('blueprintPages') ? await createBlueprintThroughApi(spec) : await createBlueprintThroughForm(page, spec);

    const name = `web-${suffix()}`;
    const workflowId = await createContainerInPage(page, name, bp.id);
    expect(workflowId).toMatch(/^container\//);
    // Mid-run: the container is being created and its first output captured (5 s by default).
    await expect.poll(() => terminalText(page.getByTestId('run-output')), { timeout: 30_000 }).toContain('ready-e2e');
    expect(await runStatus(page)).toBe('Running');
    await saveScreenshot(page, 'run-page-container-create');

    await expect.poll(() => runStatus(page), { timeout: 60_000 }).toBe('Completed');
    await expect.poll(() => page.getByTestId('stream-indicator').getAttribute('data-state')).toBe('ended');
    const states = await stepStates(page);
    expect(states.length).toBeGreaterThanOrEqual(6);
    expect(states.every((s) => s === 'completed'), states.join(', ')).toBe(true);
    const stepsText = await page.getByTestId('run-steps').innerText();
    for (const step of ['ensureImage', 'createContainer', 'startContainer', 'captureContainerLogs']) expect(stepsText).toContain(step);

    // The containers page shows it running, on the node, with its port.
    await navLink(page, 'containers').click();
    await expect.poll(() => containerState(page, name), { timeout: 15_000 }).toBe('running');
    expect(await containerRow(page, name).innerText()).toContain(`${spec.ports[0]!.host}→8080/tcp`);

    // A shell in it, from its row (SKIP.terminal until the terminal page exists).
    if (!skipNote('terminal')) {
      await containerRow(page, name).getByTestId('open-terminal').click();
      const terminal = page.getByTestId('terminal');
      await terminal.waitFor();
      await expect.poll(() => page.getByTestId('terminal-status').getAttribute('data-state'), { timeout: 20_000 }).toBe('connected');
      await terminal.click();
      await page.keyboard.type('echo e2e-$((6*7))');
      await page.keyboard.press('Enter');
      // The shell computed it: the typed line itself does not contain "e2e-42".
      await expect.poll(() => terminalText(terminal), { timeout: 20_000 }).toContain('e2e-42');
      await saveScreenshot(page, 'container-terminal');
      await navLink(page, 'containers').click();
    }

    // Stopped from its row.
    await expect.poll(() => containerState(page, name), { timeout: 15_000 }).toBe('running');
    await containerRow(page, name).getByRole('button', { name: 'Stop', exact: true }).click();
    await page.getByTestId('started-run').filter({ hasText: `Stop ${name}` }).waitFor();
    await expect.poll(() => containerState(page, name), { timeout: 30_000 }).toBe('stopped');
    const docker = await dockerContainersOf(name);
    expect(docker.map((c) => c.State)).toEqual(['exited']);
    // Stopped: Start and Remove are offered, Stop is not.
    expect(await containerRow(page, name).getByRole('button', { name: 'Stop', exact: true }).isDisabled()).toBe(true);
    expect(await containerRow(page, name).getByRole('button', { name: 'Start', exact: true }).isEnabled()).toBe(true);
  });

  it('retries a create that failed on a taken host port, from the run page, once the port is free', async () => {
    const { page } = e2e;
    const port = await freePort();
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(port, '0.0.0.0', () => r()));
    try {
      const bp = await createBlueprintThroughApi(await blueprintSpec({ ports: [{ container: 8080, host: port }] }));
      await e2e.signIn(operator);
      const name = `busy-${suffix()}`;
      const workflowId = await createContainerInPage(page, name, bp.id);

      await expect.poll(() => runStatus(page), { timeout: 60_000 }).toBe('Failed');
      const why = page.getByTestId('run-error').first();
      await expect.poll(() => why.innerText(), { timeout: 10_000 }).toMatch(/PortInUse/);
      expect(await why.innerText()).toContain(String(port));
      expect(await stepStates(page)).toContain('failed');
      // The failed create removed what it had made.
      expect(await dockerContainersOf(name)).toHaveLength(0);

      await new Promise<void>((r) => blocker.close(() => r()));
      await page.getByTestId('action-retry').click();
      await expect.poll(() => runStatus(page), { timeout: 60_000 }).toBe('Completed');
      await expect.poll(() => page.getByTestId('stream-indicator').getAttribute('data-state')).toBe('ended');
      expect(await page.getByTestId('action-retry').count()).toBe(0);
      // The new run of the same workflow wrote the container's first output.
      await expect.poll(() => terminalText(page.getByTestId('run-output')), { timeout: 10_000 }).toContain('ready-e2e');
      expect(await waitForRun(e2e.p, workflowId)).toBe('COMPLETED');

      await navLink(page, 'containers').click();
      await expect.poll(() => containerState(page, name), { timeout: 15_000 }).toBe('running');
      expect((await dockerContainersOf(name)).map((c) => c.State)).toEqual(['running']);
    } finally {
      if (blocker.listening) await new Promise<void>((r) => blocker.close(() => r()));
    }
  });
});
