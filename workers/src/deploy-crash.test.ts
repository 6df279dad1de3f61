import { DockerLabel } from '@keelson/common/constants';
import { nodes, releases, runLogs } from '@keelson/db/schema';
import { and, eq, like } from 'drizzle-orm';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCaddy, type TestCaddy } from '../../test/caddy';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../test/platform';
import { waitForRun } from '../../test/runs';
import { createSampleApp, SAMPLE_APP_PORT, type SampleApp } from '../../test/sample-app';
import { until, workerProcesses } from '../../test/worker-process';

/** The worker is SIGKILLed in the middle of an image build and started again: one deploy, once. */
describe('a worker killed mid-deploy', () => {
  let p: TestPlatform;
  let caddy: TestCaddy;
  let operator: SignedIn;
  let nodeId: string;
  let sample: SampleApp;
  const workers = workerProcesses(() => p);
  const workDir = mkdtempSync(join(tmpdir(), 'keelson-crash-work-'));
  const startWorker = () =>
    workers.start({
      KEELSON_NODE_IDS: nodeId,
      KEELSON_WORK_DIR: workDir,
      KEELSON_PROXY_ADMIN_URL: caddy.adminUrl,
      KEELSON_PROXY_LISTEN: `127.0.0.1:${caddy.httpPort}`,
      KEELSON_PROXY_UPSTREAMS_DIR: caddy.upstreamsDir,
    });

  beforeAll(async () => {
    p = await createTestPlatform();
    caddy = await startCaddy();
    const tenantId = (await p.createTenant()).id;
    operator = await p.signIn({ tenantId, role: 'operator' });
    const [node] = await p.db.insert(nodes).values({ tenantId, name: 'crash-node', endpoint: 'unix:///var/run/docker.sock' }).returning();
    nodeId = node!.id;
    sample = createSampleApp();
  });

  afterAll(async () => {
    await workers.killAll();
    for (const c of await p.docker.listContainers({ all: true, filters: { label: [`${DockerLabel.tenant}=${operator.tenantId}`] } })) {
      await p.docker.getContainer(c.Id).remove({ force: true });
    }
    await p.close();
    await caddy.stop();
    sample.remove();
  });

  it('killed while the image builds: the restarted worker finishes the deploy exactly once', async () => {
    const first = await startWorker();
    const created = await p.request('/api/apps', {
      headers: operator.headers,
      body: {
        name: 'crash-app',
        repoUrl: sample.repoUrl,
        containerPort: SAMPLE_APP_PORT,
        healthCheck: { path: '/health', expectedStatus: 200, timeoutSeconds: 20, passes: 2 },
        nodeId,
        hostname: 'crash-app.test',
        watchSeconds: 1,
        drainSeconds: 0,
      },
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const app = (await created.json()) as { id: string };
    const commit = sample.slowBuild('survived a crash', 4);
    const queued = (await (await p.request(`/api/apps/${app.id}/deploys`, { headers: operator.headers, body: { commit } })).json()) as {
      releaseId: string;
      workflowId: string;
    };

    // The build is under way (its RUN step printed) when the worker dies.
    await until('the build running', async () => {
      const rows = await p.db.select({ data: runLogs.data }).from(runLogs).where(and(eq(runLogs.workflowId, queued.workflowId), like(runLogs.data, '%building slowly%')));
      return rows.length > 0;
    });
    await workers.kill(first);
    await startWorker();

    expect(await waitForRun(p, queued.workflowId)).toBe('COMPLETED');
    const [release] = await p.db.select().from(releases).where(eq(releases.id, queued.releaseId));
    expect(release).toMatchObject({ status: 'live', commitSha: commit });
    expect(await p.db.select().from(releases).where(eq(releases.appId, app.id))).toHaveLength(1);
    const containers = await p.docker.listContainers({ all: true, filters: { label: [`io.keelson.app=${app.id}`] } });
    expect(containers.map((c) => c.State)).toEqual(['running']);

    // One deploy run, one build step (retried after the crash, not scheduled twice), one switch.
    const history = (await p.temporal.workflow.getHandle(queued.workflowId).fetchHistory()).events ?? [];
    const scheduled = (name: string) => history.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === name).length;
    expect([scheduled('buildImage'), scheduled('switchTraffic')]).toEqual([1, 1]);
    const runs = (await p.temporal.workflowService.listWorkflowExecutions({ namespace: 'default', query: `WorkflowId = '${queued.workflowId}'` })).executions ?? [];
    expect(runs).toHaveLength(1);
  }, 180_000);
});
