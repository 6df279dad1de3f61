import { DockerLabel } from '@keelson/common/constants';
import { nodes, runLogs } from '@keelson/db/schema';
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../test/platform';
import { waitForRun } from '../../test/runs';
import { until, workerProcesses } from '../../test/worker-process';

/**
 * The worker process is killed with SIGKILL in the middle of a container create and started
 * again: the run finishes once, with exactly one Docker container.
 */
describe('a worker killed mid-operation', () => {
  let p: TestPlatform;
  let operator: SignedIn;
  let nodeId: string;
  let blueprintId: string;
  const workers = workerProcesses(() => p);
  const startWorker = () => workers.start({ KEELSON_NODE_IDS: nodeId });
  const kill = workers.kill;

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

  afterEach(() => workers.killAll());

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
