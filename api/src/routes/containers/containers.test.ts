import { DockerLabel } from '@keelson/common/constants';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../../../test/platform';
import { freePort, logText, readRunStream, waitForRun } from '../../../../test/runs';

const IMAGE = 'keelson/busybox:latest';

describe('containers on a real Docker engine', () => {
  let p: TestPlatform;
  let tenantId: string;
  let operator: SignedIn;
  let viewer: SignedIn;
  let nodeId: string;

  const dockerContainers = async () =>
    p.docker.listContainers({ all: true, filters: { label: [`${DockerLabel.tenant}=${tenantId}`] } });

  async function blueprint(overrides: Record<string, unknown> = {}) {
    const res = await p.request('/api/blueprints', {
      headers: operator.headers,
      body: {
        name: `bp-${Math.random().toString(36).slice(2, 8)}`,
        image: IMAGE,
        command: ['sh', '-c', 'echo booting; echo "ready-$GREETING"; exec httpd -f -p 8080 -h /www'],
        env: { GREETING: 'hello' },
        ports: [{ container: 8080, host: await freePort() }],
        cpuLimit: 0.5,
        memoryLimitMb: 64,
        ...overrides,
      },
    });
    expect(res.status, await res.clone().text()).toBe(201);
    return (await res.json()) as { id: string; ports: Array<{ host: number }> };
  }

  async function createContainer(blueprintId: string, name = `c-${Math.random().toString(36).slice(2, 8)}`) {
    const res = await p.request('/api/containers', { headers: operator.headers, body: { name, nodeId, blueprintId, logCaptureSeconds: 2 } });
    expect(res.status, await res.clone().text()).toBe(201);
    return (await res.json()) as { container: { id: string; state: string }; run: { workflowId: string; runId: string } };
  }

  const getContainer = async (id: string) => (await (await p.request(`/api/containers/${id}`, { headers: operator.headers })).json()) as { state: string; lastError: string | null };

  beforeAll(async () => {
    p = await createTestPlatform();
    await p.startCoreWorker();
    tenantId = (await p.createTenant()).id;
    operator = await p.signIn({ tenantId, role: 'operator' });
    viewer = await p.signIn({ tenantId, role: 'viewer' });
    nodeId = (await p.addDockerNode(tenantId)).id;
  });

  afterAll(async () => {
    for (const c of await dockerContainers()) await p.docker.getContainer(c.Id).remove({ force: true });
    await p.close();
  });

  it('creates a running container from a blueprint, streams its logs, then stops, restarts and removes it', async () => {
    const bp = await blueprint();
    const { container, run } = await createContainer(bp.id);
    expect(container.state).toBe('creating');

    const events = await readRunStream(p, run.workflowId, operator.headers);
    expect(events.at(-1)).toMatchObject({ event: 'end', data: { status: 'Completed' } });
    expect(logText(events)).toContain('ready-hello');
    const steps = (events.filter((e) => e.event === 'steps').at(-1)!.data as { steps: Array<{ name: string; state: string }> }).steps;
    expect(steps.map((s) => s.name)).toEqual(
      expect.arrayContaining(['loadContainerSpec', 'ensureImage', 'createContainer', 'startContainer', 'recordContainerState', 'captureContainerLogs']),
    );
    expect(steps.every((s) => s.state === 'completed')).toBe(true);

    const [docker] = await dockerContainers();
    expect(docker?.State).toBe('running');
    expect(docker?.Ports.map((x) => x.PublicPort)).toContain(bp.ports[0]!.host);
    expect((await getContainer(container.id)).state).toBe('running');
    // The env var came from the encrypted blueprint env, never stored in clear.
    const inspect = await p.docker.getContainer(docker!.Id).inspect();
    expect(inspect.Config.Env).toContain('GREETING=hello');
    expect(inspect.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(inspect.HostConfig.NanoCpus).toBe(0.5e9);

    for (const [action, dockerState, state] of [
      ['stop', 'exited', 'stopped'],
      ['restart', 'running', 'running'],
    ] as const) {
      const res = await p.request(`/api/containers/${container.id}/actions`, { headers: operator.headers, body: { action, stopTimeoutSeconds: 1 } });
      expect(res.status).toBe(202);
      const started = (await res.json()) as { workflowId: string; operation: string };
      expect(started.operation).toBe(`container.${action}`);
      expect(await waitForRun(p, started.workflowId)).toBe('COMPLETED');
      expect((await dockerContainers())[0]?.State).toBe(dockerState);
      expect((await getContainer(container.id)).state).toBe(state);
    }

    const removed = await p.request(`/api/containers/${container.id}`, { method: 'DELETE', headers: operator.headers });
    expect(removed.status).toBe(202);
    expect(await waitForRun(p, ((await removed.json()) as { workflowId: string }).workflowId)).toBe('COMPLETED');
    expect(await dockerContainers()).toHaveLength(0);
    expect((await getContainer(container.id)).state).toBe('removed');
  });

  it('fails an image the node does not have with ImageNotFound and leaves nothing behind', async () => {
    const bp = await blueprint({ image: 'keelson/does-not-exist:1.0' });
    const { container, run } = await createContainer(bp.id);
    expect(await waitForRun(p, run.workflowId)).toBe('FAILED');
    const detail = (await (await p.request(`/api/runs/${encodeURIComponent(run.workflowId)}`, { headers: operator.headers })).json()) as {
      error: { type: string; message: string };
      steps: Array<{ name: string; state: string; error: { type: string } | null }>;
    };
    expect(detail.error.type).toBe('ImageNotFound');
    expect(detail.error.message).toContain('keelson/does-not-exist:1.0');
    expect(detail.steps.find((s) => s.name === 'ensureImage')).toMatchObject({ state: 'failed', error: { type: 'ImageNotFound' } });
    expect((await getContainer(container.id)).state).toBe('failed');
    expect(await dockerContainers()).toHaveLength(0);
  });

  it('fails a host port that is taken with PortInUse, leaves nothing, and completes when retried after the port is freed', async () => {
    const port = await freePort();
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(port, '0.0.0.0', () => r()));
    const bp = await blueprint({ ports: [{ container: 8080, host: port }] });
    const { container, run } = await createContainer(bp.id);
    expect(await waitForRun(p, run.workflowId)).toBe('FAILED');
    const failed = (await (await p.request(`/api/runs/${encodeURIComponent(run.workflowId)}`, { headers: operator.headers })).json()) as {
      error: { type: string };
      actions: { retry: boolean };
    };
    expect(failed.error.type).toBe('PortInUse');
    expect(failed.actions.retry).toBe(true);
    expect(await dockerContainers()).toHaveLength(0);
    expect((await getContainer(container.id)).lastError).toMatch(/port/i);

    await new Promise<void>((r) => blocker.close(() => r()));
    const retried = await p.request(`/api/runs/${encodeURIComponent(run.workflowId)}/retry`, { method: 'POST', headers: operator.headers });
    expect(retried.status).toBe(200);
    const { runId } = (await retried.json()) as { runId: string };
    expect(runId).not.toBe(run.runId);
    expect(await waitForRun(p, run.workflowId, runId)).toBe('COMPLETED');
    const live = await dockerContainers();
    expect(live).toHaveLength(1);
    expect(live[0]!.State).toBe('running');
    expect((await getContainer(container.id)).state).toBe('running');
    // The retry re-ran only from the failed step: the image check ran once, in the first run.
    const after = (await (await p.request(`/api/runs/${encodeURIComponent(run.workflowId)}`, { headers: operator.headers })).json()) as {
      runId: string;
      steps: Array<{ name: string }>;
    };
    expect(after.runId).toBe(runId);
    expect(after.steps.filter((s) => s.name === 'ensureImage')).toHaveLength(1);
  });

  it('refuses a host port another Keelson container on the node already uses (409) before starting anything', async () => {
    const bp = await blueprint();
    const first = await createContainer(bp.id);
    await waitForRun(p, first.run.workflowId);
    const res = await p.request('/api/containers', { headers: operator.headers, body: { name: 'second', nodeId, blueprintId: bp.id } });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { message: string }).message).toContain(`host port ${bp.ports[0]!.host}`);
  });

  it('rejects invalid blueprints and container requests with 400s that name the field', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ memoryLimitMb: 2 }, 'memoryLimitMb'],
      [{ cpuLimit: 0 }, 'cpuLimit'],
      [{ image: 'Not An Image!' }, 'image'],
      [{ ports: [{ container: 80, host: 70000 }] }, 'ports'],
      [{ volumes: [{ source: '/etc', target: '/data' }] }, 'volumes'],
    ];
    for (const [body, field] of cases) {
      const res = await p.request('/api/blueprints', { headers: operator.headers, body: { name: 'bad', image: IMAGE, ...body } });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(((await res.json()) as { message: string }).message).toContain(field);
    }
    const huge = await blueprint({ cpuLimit: 64 });
    const tooBig = await p.request('/api/containers', { headers: operator.headers, body: { name: 'toobig', nodeId, blueprintId: huge.id } });
    expect(tooBig.status).toBe(400);
    expect(((await tooBig.json()) as { message: string }).message).toMatch(/cpuLimit 64 exceeds/);

    const unknownNode = await p.request('/api/containers', {
      headers: operator.headers,
      body: { name: 'x', nodeId: '00000000-0000-4000-8000-000000000000', blueprintId: huge.id },
    });
    expect(unknownNode.status).toBe(400);
    expect(((await unknownNode.json()) as { message: string }).message).toContain('nodeId');

    const notJson = await p.request('/api/containers', { headers: { ...operator.headers, 'content-type': 'application/json' }, body: '{"name":' });
    expect(notJson.status).toBe(400);
    expect(await dockerContainers().then((l) => l.filter((c) => c.Labels['io.keelson.name'] === 'toobig'))).toHaveLength(0);
  });

  it('guards every route: 401 without credentials, 403 for a viewer acting, 404 for unknown ids', async () => {
    expect((await p.request('/api/containers')).status).toBe(401);
    expect((await p.request('/api/containers', { headers: viewer.headers })).status).toBe(200);
    const denied = await p.request('/api/containers', { headers: viewer.headers, body: { name: 'v', nodeId, blueprintId: nodeId } });
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { message: string }).message).toContain('container.manage');
    const noCsrf = await p.request('/api/blueprints', { headers: { cookie: operator.cookie }, body: { name: 'n', image: IMAGE } });
    expect(noCsrf.status).toBe(403);
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await p.request(`/api/containers/${missing}`, { headers: operator.headers })).status).toBe(404);
    expect((await p.request(`/api/containers/${missing}/actions`, { headers: operator.headers, body: { action: 'stop' } })).status).toBe(404);
    expect((await p.request(`/api/containers/not-a-uuid`, { headers: operator.headers })).status).toBe(400);
    expect((await p.request(`/api/blueprints/${missing}`, { headers: operator.headers })).status).toBe(404);
  });
});
