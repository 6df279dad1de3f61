import { DockerLabel } from '@keelson/common/constants';
import { nodes, runLogs } from '@keelson/db/schema';
import { spawn, type ChildProcess } from 'node:child_process';
import { eq } from 'drizzle-orm';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, inject } from 'vitest';
import { createTestPlatform, TEST_KEY_SPEC, type SignedIn, type TestPlatform } from '../../test/platform';
import { waitForRun } from '../../test/runs';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The worker process is killed with SIGKILL in the middle of a container create and started
 * again: the run finishes once, with exactly one Docker container.
 */
describe('a worker killed mid-operation', () => {
  let p: TestPlatform;
  let operator: SignedIn;
  let nodeId: string;
  let blueprintId: string;
  const children = new Set<ChildProcess>();

  async function startWorker(): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/src/main.ts'], {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: p.dbUrl,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        KEELSON_ENCRYPTION_KEYS: TEST_KEY_SPEC,
        KEELSON_CORE_TASK_QUEUE: p.coreTaskQueue,
        KEELSON_NODE_IDS: nodeId,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    child.on('exit', () => children.delete(child));
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('workers running')) resolve();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
      child.once('exit', (code) => reject(new Error(`worker exited (${code}) before running:\n${output}`)));
    });
    return child;
  }

  function kill(child: ChildProcess) {
    return new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const dockerContainers = (containerId: string) =>
    p.docker.listContainers({ all: true, filters: { label: [`${DockerLabel.container}=${containerId}`] } });

  async function createContainer() {
    const res = await p.request('/api/containers', {
      headers: operator.headers,
      body: { name: `crash-${Math.random().toString(36).slice(2, 8)}`, nodeId, blueprintId, logCaptureSeconds: 4 },
    });
    expect(res.status, await res.clone().text()).toBe(201);
    return (await res.json()) as { container: { id: string }; run: { workflowId: string } };
  }

  beforeAll(async () => {
    p = await createTestPlatform();
    const tenantId = (await p.createTenant()).id;
    operator = await p.signIn({ tenantId, role: 'operator' });
    const [node] = await p.db.insert(nodes).values({ tenantId, name: 'crash-node', endpoint: 'unix:///var/run/docker.sock' }).returning();
    nodeId = node!.id;
    const bp = await p.request('/api/blueprints', {
      headers: operator.headers,
      body: {
        name: 'crash-bp',
        image: 'keelson/busybox:latest',
        command: ['sh', '-c', 'echo ready; exec sleep 3600'],
      },
    });
    blueprintId = ((await bp.json()) as { id: string }).id;
  });

  afterEach(async () => {
    for (const child of children) await kill(child);
  });

  afterAll(async () => {
    for (const c of await p.docker.listContainers({ all: true, filters: { label: [`${DockerLabel.managed}=true`, `io.keelson.name`] } })) {
      if (c.Names.some((n) => n.startsWith('/keelson-')) && c.Labels[DockerLabel.tenant] === operator.tenantId) {
        await p.docker.getContainer(c.Id).remove({ force: true });
      }
    }
    await p.close();
  });

  it('killed as soon as the Docker container exists: the restarted worker adopts it', async () => {
    const first = await startWorker();
    const { container, run } = await createContainer();
    await until('the docker container', async () => (await dockerContainers(container.id)).length > 0);
    await kill(first);

    await startWorker();
    expect(await waitForRun(p, run.workflowId)).toBe('COMPLETED');
    const live = await dockerContainers(container.id);
    expect(live).toHaveLength(1);
    expect(live[0]!.State).toBe('running');
    const record = (await (await p.request(`/api/containers/${container.id}`, { headers: operator.headers })).json()) as { state: string; dockerId: string };
    expect(record).toMatchObject({ state: 'running', dockerId: live[0]!.Id });
    for (const c of live) await p.docker.getContainer(c.Id).remove({ force: true });
  }, 120_000);

  it('killed while capturing output: the capture resumes and the run completes once', async () => {
    const first = await startWorker();
    const { container, run } = await createContainer();
    await until('output in the run', async () => {
      const rows = await p.db.select({ data: runLogs.data }).from(runLogs).where(eq(runLogs.workflowId, run.workflowId));
      return rows.some((r) => r.data.includes('ready'));
    });
    await kill(first);

    await startWorker();
    expect(await waitForRun(p, run.workflowId)).toBe('COMPLETED');
    expect(await dockerContainers(container.id)).toHaveLength(1);
    const handle = p.temporal.workflow.getHandle(run.workflowId);
    const history = await handle.fetchHistory();
    const completedCreates = (history.events ?? []).filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'createContainer',
    );
    expect(completedCreates).toHaveLength(1);
    const closes = (await p.temporal.workflowService.listWorkflowExecutions({ namespace: 'default', query: `WorkflowId = '${run.workflowId}'` })).executions ?? [];
    expect(closes).toHaveLength(1);
  }, 120_000);
});
