import { DockerLabel } from '@keelson/common/constants';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../test/platform';
import { freePort, logText, readRunStream, waitForRun } from '../../test/runs';
import { connectDb } from './client';
import { startEmbeddedPostgres } from './embedded';
import { migrateDb } from './migrate';

/**
 * `npm run up` runs on embedded PGlite over the wire protocol: the same API, worker and
 * migrations must work there, including a container create, whose record and workflow start
 * share one transaction while the worker reads through other connections.
 */
describe('on embedded Postgres (PGlite)', () => {
  let dataDir: string;
  let pg: Awaited<ReturnType<typeof startEmbeddedPostgres>>;
  let p: TestPlatform;
  let operator: SignedIn;
  const tenantIds: string[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'keelson-pglite-'));
    pg = await startEmbeddedPostgres({ dataDir, port: await freePort() });
    const handle = connectDb(pg.url, { max: 1 });
    await migrateDb(handle.db);
    await handle.close();
    p = await createTestPlatform({ databaseUrl: pg.url });
    await p.startCoreWorker();
    operator = await p.signIn({ tenantId: (await p.createTenant()).id, role: 'operator' });
    tenantIds.push(operator.tenantId);
  });

  async function removeContainersOf(tenantId: string) {
    for (const c of await p.docker.listContainers({ all: true, filters: { label: [`${DockerLabel.tenant}=${tenantId}`] } })) {
      await p.docker.getContainer(c.Id).remove({ force: true });
    }
  }

  afterAll(async () => {
    for (const tenantId of tenantIds) await removeContainersOf(tenantId);
    await p.close();
    await pg.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs an operation and streams its output', async () => {
    const res = await p.request('/api/runs', { headers: operator.headers, body: { operation: 'system.noop', input: { echo: ['on pglite'] } } });
    expect(res.status).toBe(201);
    const { workflowId } = (await res.json()) as { workflowId: string };
    const events = await readRunStream(p, workflowId, operator.headers);
    expect(events.at(-1)).toMatchObject({ event: 'end', data: { status: 'Completed' } });
    expect(logText(events)).toBe('on pglite\n');
  });

  it('creates a container in a new organization: record, workflow start and audit in one transaction', async () => {
    // The organization's first run is started inside a transaction: its data key is made before.
    const newcomer = await p.signIn({ tenantId: (await p.createTenant()).id, role: 'operator' });
    tenantIds.push(newcomer.tenantId);
    const nodeId = (await p.addDockerNode(newcomer.tenantId)).id;
    const bp = await p.request('/api/blueprints', {
      headers: newcomer.headers,
      body: { name: 'lite', image: 'keelson/busybox:latest', command: ['sh', '-c', 'echo up; exec sleep 3600'] },
    });
    const res = await p.request('/api/containers', {
      headers: newcomer.headers,
      body: { name: 'lite-1', nodeId, blueprintId: ((await bp.json()) as { id: string }).id, logCaptureSeconds: 1 },
    });
    expect(res.status).toBe(201);
    const { run, container } = (await res.json()) as { run: { workflowId: string }; container: { id: string } };
    expect(await waitForRun(p, run.workflowId)).toBe('COMPLETED');
    const state = (await (await p.request(`/api/containers/${container.id}`, { headers: newcomer.headers })).json()) as { state: string };
    expect(state.state).toBe('running');
  });
});
