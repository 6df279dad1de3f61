import { CaddyProxy } from '@keelson/activities/caddy/proxy';
import { DockerLabel } from '@keelson/common/constants';
import type Docker from 'dockerode';
import { request as httpRequest, Agent } from 'node:http';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect } from 'vitest';
import { startCaddy, type TestCaddy } from './caddy';
import { createTestPlatform, type SignedIn, type TestPlatform } from './platform';
import { createSampleApp, SAMPLE_APP_PORT, type SampleApp } from './sample-app';

export interface Release {
  id: string;
  status: string;
  commitSha: string | null;
  image: string | null;
  workflowId: string;
  error: string | null;
  timings: Record<string, number>;
  sourceReleaseId: string | null;
  finishedAt: string | null;
}

export interface AppRecord {
  id: string;
  hostname: string;
  currentReleaseId: string | null;
  webhookSecret: string;
}

export interface DeployWorld {
  p: TestPlatform;
  caddy: TestCaddy;
  /** The node's edge proxy (the test's Caddy). */
  proxy: CaddyProxy;
  operator: SignedIn;
  tenantId: string;
  nodeId: string;
  /** The node's Docker engine (the machine's, unless the file brought its own). */
  docker: Docker;
  sample: SampleApp;
  /** Creates an app of the sample repository; `overrides` change its settings. */
  createApp(overrides?: Record<string, unknown>): Promise<AppRecord>;
  api<T>(path: string, init?: { method?: string; body?: unknown; expect?: number }): Promise<T>;
  deploy(appId: string, commit?: string): Promise<{ releaseId: string; workflowId: string }>;
  /** Polls a release until it reaches one of `statuses`. */
  releaseIn(appId: string, releaseId: string, statuses: string[], timeoutMs?: number): Promise<Release>;
  /** Polls a release until its deploy has finished, whatever the outcome. */
  releaseDone(appId: string, releaseId: string, timeoutMs?: number): Promise<Release>;
  releases(appId: string): Promise<Release[]>;
  /**
   * GET through the edge proxy with the app's Host header, on a new connection unless `agent`
   * is given: a connection kept alive across a change of Caddy's config can still be answered by
   * the config it replaced (api/src/routes/apps/deploy.test.ts, the route restore).
   */
  viaProxy(hostname: string, path?: string, agent?: Agent): Promise<{ status: number; body: string }>;
  /** The same, never retried: `agent: false` opens a new connection for it. */
  viaProxyOnce(hostname: string, path: string, agent: Agent | false): Promise<{ status: number; body: string }>;
  /** Containers of the app's releases on the engine. */
  releaseContainers(appId: string): Promise<Array<{ Names: string[]; State: string }>>;
}


/**
 * Hooks for a deploy test file: platform, core worker, a Caddy of its own, a node, a sample app.
 * `engine` gives the node a Docker engine of the file's own (made in the file's beforeAll).
 */
export function setupDeployWorld(opts: { engine?: () => { docker: Docker; endpoint: string } } = {}): DeployWorld {
  const world = {} as DeployWorld;

  beforeAll(async () => {
    world.p = await createTestPlatform();
    await world.p.startCoreWorker();
    world.caddy = await startCaddy();
    world.tenantId = (await world.p.createTenant()).id;
    world.operator = await world.p.signIn({ tenantId: world.tenantId, role: 'operator' });
    world.proxy = new CaddyProxy({ adminUrl: world.caddy.adminUrl, listen: [`127.0.0.1:${world.caddy.httpPort}`], upstreamsDir: world.caddy.upstreamsDir });
    const engine = opts.engine?.();
    world.docker = engine?.docker ?? world.p.docker;
    world.nodeId = (await world.p.addDockerNode(world.tenantId, undefined, { proxy: world.proxy, ...engine })).id;
    world.sample = createSampleApp();
  });

  afterAll(async () => {
    if (world.tenantId) {
      for (const c of await world.docker.listContainers({ all: true, filters: { label: [`${DockerLabel.tenant}=${world.tenantId}`] } }).catch(() => [])) {
        await world.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
      }
    }
    await world.p?.close();
    await world.caddy?.stop();
    world.sample?.remove();
  });

  world.api = async <T,>(path: string, init: { method?: string; body?: unknown; expect?: number } = {}) => {
    const res = await world.p.request(path, { method: init.method, headers: world.operator.headers, body: init.body });
    const text = await res.text();
    expect(res.status, `${init.method ?? (init.body ? 'POST' : 'GET')} ${path}: ${text}`).toBe(init.expect ?? (res.status < 300 ? res.status : 200));
    return (text ? JSON.parse(text) : undefined) as T;
  };

  world.createApp = (overrides = {}) =>
    world.api<AppRecord>('/api/apps', {
      body: {
        name: `shop-${randomBytes(3).toString('hex')}`,
        repoUrl: world.sample.repoUrl,
        containerPort: SAMPLE_APP_PORT,
        healthCheck: { path: '/health', expectedStatus: 200, timeoutSeconds: 15, passes: 2 },
        nodeId: world.nodeId,
        hostname: `shop-${randomBytes(4).toString('hex')}.test`,
        watchSeconds: 2,
        drainSeconds: 1,
        env: { GREETING: 'hello', API_TOKEN: 'not-for-history' },
        ...overrides,
      },
      expect: 201,
    });

  world.deploy = (appId, commit) => world.api(`/api/apps/${appId}/deploys`, { body: commit ? { commit } : {}, expect: 202 });

  world.releases = async (appId) => (await world.api<{ items: Release[] }>(`/api/apps/${appId}/releases`)).items;

  async function pollRelease(appId: string, releaseId: string, done: (r: Release) => boolean, what: string, timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    let last: Release | undefined;
    while (Date.now() < deadline) {
      last = (await world.releases(appId)).find((r) => r.id === releaseId);
      if (last && done(last)) return last;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`release ${releaseId} never ${what}; last: ${JSON.stringify(last)}`);
  }
  world.releaseIn = (appId, releaseId, statuses, timeoutMs = 60_000) =>
    pollRelease(appId, releaseId, (r) => statuses.includes(r.status), `reached ${statuses.join('/')}`, timeoutMs);
  world.releaseDone = (appId, releaseId, timeoutMs = 60_000) => pollRelease(appId, releaseId, (r) => r.finishedAt !== null, 'finished', timeoutMs);

  world.viaProxy = async (hostname, path = '/', agent: Agent | false = false) => {
    try {
      return await getOnce(world.caddy.httpPort, hostname, path, agent);
    } catch (err) {
      // A kept-alive connection the server closed as the request went out (Caddy closes idle
      // connections when its config changes: another app's first route in this file's Caddy):
      // the request never reached it. HTTP lets clients retry an idempotent request then, and
      // browsers do; Node's agent leaves it to the caller.
      if ((err as { reusedSocket?: boolean }).reusedSocket) return getOnce(world.caddy.httpPort, hostname, path, agent);
      throw err;
    }
  };

  world.viaProxyOnce = (hostname, path, agent) => getOnce(world.caddy.httpPort, hostname, path, agent);

  world.releaseContainers = async (appId) =>
    (await world.docker.listContainers({ all: true, filters: { label: [`io.keelson.app=${appId}`] } })) as Array<{ Names: string[]; State: string }>;

  return world;
}

function getOnce(port: number, hostname: string, path: string, agent?: Agent | false): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host: hostname }, agent, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err: NodeJS.ErrnoException) => {
      const lost = req.reusedSocket && (err.code === 'ECONNRESET' || err.message === 'socket hang up');
      reject(Object.assign(err, { reusedSocket: lost }));
    });
    req.end();
  });
}
