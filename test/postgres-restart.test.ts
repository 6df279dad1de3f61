import { CaddyProxy } from '@keelson/activities/caddy/proxy';
import { DockerLabel } from '@keelson/common/constants';
import { connectDb, migrateDb } from '@keelson/db';
import { auditLog, blueprints, releases, runLogs } from '@keelson/db/schema';
import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getThroughProxy, startCaddy, type TestCaddy } from './caddy';
import { createTestPlatform, type SignedIn, type TestPlatform } from './platform';
import { startPrivatePostgres, type PrivatePostgres } from './private-postgres';
import { waitForRun } from './runs';
import { createSampleApp, SAMPLE_APP_PORT, type SampleApp } from './sample-app';
import { until } from './worker-process';

/**
 * Postgres (a private server) is stopped the hard way while a deploy builds and writes its output,
 * and started again, with the API and the worker up all along: the API answers 503 meanwhile (not
 * 500), then recovers; the deploy finishes with every line of its output, its release record and
 * every audit row of the requests that succeeded.
 */
describe('Postgres restarted mid-run', () => {
  let pgServer: PrivatePostgres;
  let p: TestPlatform;
  let caddy: TestCaddy;
  let sample: SampleApp;
  let operator: SignedIn;
  let tenantId: string;
  let nodeId: string;
  const BUILD_LINES = 40;

  beforeAll(async () => {
    pgServer = await startPrivatePostgres();
    const migrator = connectDb(pgServer.url, { max: 1 });
    await migrateDb(migrator.db);
    await migrator.close();
    p = await createTestPlatform({ databaseUrl: pgServer.url });
    await p.startCoreWorker();
    caddy = await startCaddy();
    tenantId = (await p.createTenant()).id;
    operator = await p.signIn({ tenantId, role: 'operator' });
    const proxy = new CaddyProxy({ adminUrl: caddy.adminUrl, listen: [`127.0.0.1:${caddy.httpPort}`], upstreamsDir: caddy.upstreamsDir });
    nodeId = (await p.addDockerNode(tenantId, undefined, { proxy })).id;
    sample = createSampleApp();
  });

  afterAll(async () => {
    if (tenantId) {
      for (const c of await p.docker.listContainers({ all: true, filters: { label: [`${DockerLabel.tenant}=${tenantId}`] } })) {
        await p.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
      }
    }
    await p?.close();
    await caddy?.stop();
    sample?.remove();
    await pgServer?.remove();
  });

  it('answers 503 while it is down, then finishes the deploy losing no output, release or audit row', { timeout: 180_000 }, async () => {
    const created = await p.request('/api/apps', {
      headers: operator.headers,
      body: {
        name: 'pg-restart',
        repoUrl: sample.repoUrl,
        containerPort: SAMPLE_APP_PORT,
        healthCheck: { path: '/health', expectedStatus: 200, timeoutSeconds: 20, passes: 2 },
        nodeId,
        hostname: 'pg-restart.test',
        watchSeconds: 1,
        drainSeconds: 0,
      },
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const app = (await created.json()) as { id: string };
    const commit = sample.chattyBuild('survived a database restart', BUILD_LINES, 0.2);
    const queued = await p.request(`/api/apps/${app.id}/deploys`, { headers: operator.headers, body: { commit } });
    expect(queued.status).toBe(202);
    const { releaseId, workflowId } = (await queued.json()) as { releaseId: string; workflowId: string };

    const output = async () =>
      (await p.db.select({ data: runLogs.data, attempt: runLogs.attempt, activityId: runLogs.activityId }).from(runLogs).where(eq(runLogs.workflowId, workflowId)).orderBy(asc(runLogs.id)));
    await until('the build printing', async () => (await output()).some((r) => r.data.includes('build line 3\n')), 90_000);

    await pgServer.stop();
    const answers: number[] = [];
    const bodies: Array<{ code?: string }> = [];
    for (let i = 0; i < 5; i++) {
      const read = await p.request(`/api/apps/${app.id}`, { headers: operator.headers });
      const write = await p.request('/api/blueprints', { headers: operator.headers, body: { name: `during-outage-${i}`, image: 'keelson/busybox:latest' } });
      answers.push(read.status, write.status);
      bodies.push((await read.json()) as { code?: string }, (await write.json()) as { code?: string });
    }
    const health = await p.request('/api/health');
    const healthBody = (await health.json()) as { status: string; checks: { database: string; temporal: string } };
    await pgServer.start();

    expect(answers).toEqual(Array(10).fill(503));
    expect(bodies.every((b) => b.code === 'unavailable')).toBe(true);
    expect([health.status, healthBody.status, healthBody.checks.temporal]).toEqual([503, 'degraded', 'ok']);
    expect(healthBody.checks.database).toMatch(/^error/);

    // Back: the API answers again at once, and a write made now is recorded with its audit row.
    expect((await p.request(`/api/apps/${app.id}`, { headers: operator.headers })).status).toBe(200);
    const after = await p.request('/api/blueprints', { headers: operator.headers, body: { name: 'after-outage', image: 'keelson/busybox:latest' } });
    expect(after.status).toBe(201);
    expect((await p.request('/api/health')).status).toBe(200);

    expect(await waitForRun(p, workflowId)).toBe('COMPLETED');
    const [release] = await p.db.select().from(releases).where(eq(releases.id, releaseId));
    expect(release).toMatchObject({ status: 'live', commitSha: commit });
    expect(release!.finishedAt).not.toBeNull();
    expect(await p.db.select().from(releases).where(eq(releases.appId, app.id))).toHaveLength(1);
    expect(await getThroughProxy(caddy.httpPort, 'pg-restart.test')).toEqual({ status: 200, body: 'survived a database restart' });

    // Every line the build printed is in the run's output, once, in order, from one attempt.
    const rows = await output();
    const text = rows.map((r) => r.data).join('');
    const lines = [...text.matchAll(/build line (\d+)\n/g)].map((m) => Number(m[1]));
    expect(lines.filter((n, i) => lines.indexOf(n) === i)).toEqual(Array.from({ length: BUILD_LINES }, (_, i) => i + 1));
    expect(lines).toHaveLength(BUILD_LINES);

    // The audit log holds the requests that succeeded, and nothing of those refused.
    const audit = await p.db.select({ action: auditLog.action, resourceId: auditLog.resourceId }).from(auditLog).where(eq(auditLog.tenantId, tenantId));
    expect(audit.map((a) => a.action).sort()).toEqual(['app.create', 'app.deploy', 'blueprint.create'].sort());
    expect((await p.db.select({ name: blueprints.name }).from(blueprints).where(eq(blueprints.tenantId, tenantId))).map((b) => b.name)).toEqual(['after-outage']);
  });
});
