import { existsSync, readdirSync, rmSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCaddy, type TestCaddy } from '../../test/caddy';
import { freePort } from '../../test/runs';
import { CaddyAdminError, CaddyProxy } from './proxy';

let caddy: TestCaddy;
let proxy: CaddyProxy;
const upstreams: Upstream[] = [];

beforeAll(async () => {
  caddy = await startCaddy();
  proxy = new CaddyProxy({ adminUrl: caddy.adminUrl, listen: [`127.0.0.1:${caddy.httpPort}`], upstreamsDir: caddy.upstreamsDir });
  await proxy.ensureServer();
});

afterAll(async () => {
  await Promise.all(upstreams.map((u) => u.close({ force: true })));
  await caddy?.stop();
});

describe('CaddyProxy', () => {
  it('creates its server on an empty Caddy and leaves it alone when asked again', async () => {
    const before = await adminGet('/config/apps/http/servers/keelson');
    expect(before).toMatchObject({
      listen: [`127.0.0.1:${caddy.httpPort}`],
      automatic_https: { disable: true },
      routes: [{ '@id': 'keelson-catch-all' }],
    });
    await proxy.ensureServer();
    await new CaddyProxy({ adminUrl: caddy.adminUrl, listen: [`127.0.0.1:${caddy.httpPort}`], upstreamsDir: caddy.upstreamsDir }).ensureServer();
    expect(await adminGet('/config/apps/http/servers/keelson')).toEqual(before);

    const res = await get('nobody.test');
    expect(res).toEqual({ status: 404, body: 'no app for this host' });
  });

  it('keeps existing routes and moves the catch-all back to the end', async () => {
    const other = new CaddyProxy({ adminUrl: caddy.adminUrl, server: 'adopted', listen: [`127.0.0.1:${await freePort()}`] });
    // A server someone else configured: a route of its own, no catch-all.
    await adminSend('PUT', '/config/apps/http/servers/adopted', {
      listen: other.listen,
      routes: [{ '@id': 'adopted-static', match: [{ host: ['static.test'] }], handle: [{ handler: 'static_response', body: 'static' }] }],
    });
    await other.ensureServer();
    const up = await startUpstream('adopted-app');
    await other.setRoute({ id: 'adopted-app', hosts: ['app.test'], upstream: up.address });
    // A route appended after the catch-all by someone else; ensureServer puts the catch-all last again.
    await adminSend('POST', '/config/apps/http/servers/adopted/routes', { '@id': 'adopted-late', handle: [{ handler: 'static_response', body: 'late' }] });
    await other.ensureServer();

    const routes = (await adminGet('/config/apps/http/servers/adopted/routes')) as { '@id': string }[];
    expect(routes.map((r) => r['@id'])).toEqual(['adopted-static', 'adopted-app', 'adopted-late', 'adopted-catch-all']);
    expect(await adminGet('/config/apps/http/servers/adopted/automatic_https')).toEqual({ disable: true });
    await adminSend('DELETE', '/config/apps/http/servers/adopted');
  });

  it('routes a host to its upstream and other hosts to the catch-all', async () => {
    const a = await startUpstream('alpha');
    expect(await proxy.setRoute({ id: 'app-alpha', hosts: ['alpha.test', 'www.alpha.test'], upstream: a.address })).toEqual({ previous: null });

    expect(await get('alpha.test')).toEqual({ status: 200, body: 'alpha' });
    expect(await get('www.alpha.test')).toEqual({ status: 200, body: 'alpha' });
    expect(await get('beta.test')).toEqual({ status: 404, body: 'no app for this host' });
    expect(await proxy.getRoute('app-alpha')).toEqual({ hosts: ['alpha.test', 'www.alpha.test'], upstream: a.address });

    const routes = (await adminGet('/config/apps/http/servers/keelson/routes')) as { '@id': string }[];
    expect(routes.at(-1)?.['@id']).toBe('keelson-catch-all');
  });

  it('switches a route to a new upstream and reports the previous one', async () => {
    const one = await startUpstream('one');
    const two = await startUpstream('two');
    await proxy.setRoute({ id: 'app-switch', hosts: ['switch.test'], upstream: one.address });
    expect(await get('switch.test')).toEqual({ status: 200, body: 'one' });

    expect(await proxy.setRoute({ id: 'app-switch', hosts: ['switch.test'], upstream: two.address })).toEqual({ previous: one.address });
    expect(await get('switch.test')).toEqual({ status: 200, body: 'two' });
    expect(await proxy.getRoute('app-switch')).toEqual({ hosts: ['switch.test'], upstream: two.address });

    // Other routes are untouched by the switch.
    expect((await get('alpha.test')).body).toBe('alpha');
  });

  it('switches without loading a new config: the config stays as it was and kept-alive connections stay open', async () => {
    const one = await startUpstream('steady-one');
    const two = await startUpstream('steady-two');
    await proxy.setRoute({ id: 'app-steady', hosts: ['steady.test'], upstream: one.address });
    const config = await adminGet('/config/');
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<Socket>();
    agent.on('free', (socket: Socket) => sockets.add(socket));
    let closed = 0;
    try {
      expect(await get('steady.test', agent)).toEqual({ status: 200, body: 'steady-one' });
      const [socket] = [...sockets];
      socket!.once('close', () => closed++);

      expect(await proxy.setRoute({ id: 'app-steady', hosts: ['steady.test'], upstream: two.address })).toEqual({ previous: one.address });
      await sleep(200); // what a config load would take to retire the old server and close the socket
      expect(await get('steady.test', agent)).toEqual({ status: 200, body: 'steady-two' });
      expect({ closed, sockets: sockets.size }).toEqual({ closed: 0, sockets: 1 });
      expect(await adminGet('/config/')).toEqual(config);
    } finally {
      agent.destroy();
    }
  });

  it('moves a route of an older Keelson to its upstream directory, and puts back an upstream the host lost', async () => {
    const one = await startUpstream('legacy-one');
    const two = await startUpstream('legacy-two');
    // A route as Keelson wrote them before upstream directories: the upstream in the config.
    await adminSend('PUT', '/config/apps/http/servers/keelson/routes/0', {
      '@id': 'app-legacy',
      match: [{ host: ['legacy.test'] }],
      handle: [{ handler: 'reverse_proxy', upstreams: [{ dial: one.address }] }],
      terminal: true,
    });
    expect(await proxy.getRoute('app-legacy')).toEqual({ hosts: ['legacy.test'], upstream: one.address });
    expect(await proxy.setRoute({ id: 'app-legacy', hosts: ['legacy.test'], upstream: two.address })).toEqual({ previous: one.address });
    expect(await get('legacy.test')).toEqual({ status: 200, body: 'legacy-two' });
    expect(readdirSync(join(caddy.upstreamsDir, 'app-legacy'))).toEqual([two.address]);

    rmSync(join(caddy.upstreamsDir, 'app-legacy'), { recursive: true });
    expect(await proxy.getRoute('app-legacy')).toBeNull();
    expect(await get('legacy.test')).toEqual({ status: 502, body: 'no release of this app is serving' });
    expect(await proxy.setRoute({ id: 'app-legacy', hosts: ['legacy.test'], upstream: two.address })).toEqual({ previous: null });
    expect(await get('legacy.test')).toEqual({ status: 200, body: 'legacy-two' });
  });

  it('serves the newest upstream file and keeps the one it superseded for requests that already found it', async () => {
    const a = await startUpstream('first');
    const b = await startUpstream('second');
    await proxy.setRoute({ id: 'app-newest', hosts: ['newest.test'], upstream: a.address });
    expect(await proxy.setRoute({ id: 'app-newest', hosts: ['newest.test'], upstream: b.address })).toEqual({ previous: a.address });
    const dir = join(caddy.upstreamsDir, 'app-newest');
    // Caddy globs the directory, then stats what it found: the superseded file is still there.
    expect(readdirSync(dir).sort()).toEqual([a.address, b.address].sort());
    expect(await get('newest.test')).toEqual({ status: 200, body: 'second' });
    // Back to an address whose file is there: it becomes the newest again.
    expect(await proxy.setRoute({ id: 'app-newest', hosts: ['newest.test'], upstream: a.address })).toEqual({ previous: b.address });
    expect(await get('newest.test')).toEqual({ status: 200, body: 'first' });
    expect(await proxy.getRoute('app-newest')).toEqual({ hosts: ['newest.test'], upstream: a.address });
  });

  it('reads and removes routes, idempotently', async () => {
    const up = await startUpstream('gone-soon');
    await proxy.setRoute({ id: 'app-remove', hosts: ['remove.test'], upstream: up.address });
    expect(await get('remove.test')).toEqual({ status: 200, body: 'gone-soon' });

    await proxy.removeRoute('app-remove');
    expect(await proxy.getRoute('app-remove')).toBeNull();
    expect(await get('remove.test')).toEqual({ status: 404, body: 'no app for this host' });
    expect(existsSync(join(caddy.upstreamsDir, 'app-remove'))).toBe(false);
    await proxy.removeRoute('app-remove');
    expect(await proxy.getRoute('never-there')).toBeNull();
  });

  it("lets a request in flight finish on the old upstream while new ones reach the new one", async () => {
    const slow = await startUpstream('old-slow', { delayMs: 1500 });
    const fresh = await startUpstream('new-fast');
    await proxy.setRoute({ id: 'app-inflight', hosts: ['inflight.test'], upstream: slow.address });

    const inFlight = get('inflight.test');
    await until(() => slow.requests > 0);
    await proxy.setRoute({ id: 'app-inflight', hosts: ['inflight.test'], upstream: fresh.address });
    expect(await get('inflight.test')).toEqual({ status: 200, body: 'new-fast' });
    expect(await inFlight).toEqual({ status: 200, body: 'old-slow' });
  });

  it("names the admin call and Caddy's message when Caddy refuses a change", async () => {
    const broken = new CaddyProxy({ adminUrl: caddy.adminUrl, server: 'broken', listen: ['127.0.0.1:not-a-port'] });
    const err = await broken.ensureServer().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CaddyAdminError);
    expect((err as Error).message).toMatch(
      /^caddy admin PUT \/config\/apps\/http\/servers\/broken failed \(500\): .*invalid listener address '127\.0\.0\.1:not-a-port'/,
    );
    // Caddy kept the config it had: the failed change left nothing behind.
    expect(await adminGet('/config/apps/http/servers/broken')).toBeNull();
    expect((await get('alpha.test')).body).toBe('alpha');
  });

  it('says clearly when no proxy answers', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const nowhere = new CaddyProxy({ adminUrl: url });
    await expect(nowhere.ensureServer()).rejects.toThrow(`proxy admin API unreachable at ${url}: ECONNREFUSED`);
    await expect(nowhere.getRoute('x')).rejects.toThrow(`proxy admin API unreachable at ${url}`);
  });

  it('serves every request while switching back and forth under load', async () => {
    const blue = await startUpstream('blue', { delayMs: 5 });
    const green = await startUpstream('green', { delayMs: 5 });
    await proxy.setRoute({ id: 'app-load', hosts: ['load.test'], upstream: blue.address });

    const load = startLoad('load.test', new Set(['blue', 'green']));
    await sleep(300);
    for (let i = 0; i < 20; i++) {
      const next = i % 2 === 0 ? green : blue;
      await proxy.setRoute({ id: 'app-load', hosts: ['load.test'], upstream: next.address });
      // Once the switch has returned, a new connection reaches the new upstream.
      expect((await get('load.test')).body).toBe(next.body);
      await sleep(100);
    }
    await sleep(200);
    const result = await load.stop();

    expect(result.failures, result.failures.slice(0, 5).join('\n')).toHaveLength(0);
    expect(result.keepAlive.ok).toBeGreaterThan(200);
    expect(result.fresh.ok).toBeGreaterThan(200);
    expect(result.bodies.get('blue')).toBeGreaterThan(0);
    expect(result.bodies.get('green')).toBeGreaterThan(0);
  });

  it('serves every request while each new release replaces one that shuts down 500 ms later', async () => {
    let current = await startUpstream('release-0', { delayMs: 5 });
    await proxy.setRoute({ id: 'app-drain', hosts: ['drain.test'], upstream: current.address });
    const releases = new Set(['release-0']);

    const load = startLoad('drain.test', releases);
    await sleep(300);
    const closing: Promise<void>[] = [];
    for (let i = 1; i <= 20; i++) {
      const next = await startUpstream(`release-${i}`, { delayMs: 5 });
      releases.add(next.body);
      const { previous } = await proxy.setRoute({ id: 'app-drain', hosts: ['drain.test'], upstream: next.address });
      expect(previous).toBe(current.address);
      const old = current;
      closing.push(sleep(500).then(() => old.close()));
      current = next;
      await sleep(150);
    }
    await Promise.all(closing);
    const result = await load.stop();

    expect(result.failures, result.failures.slice(0, 5).join('\n')).toHaveLength(0);
    expect(result.keepAlive.ok).toBeGreaterThan(200);
    expect(result.fresh.ok).toBeGreaterThan(200);
    expect(result.bodies.get('release-20')).toBeGreaterThan(0);
    // The closed releases really were closed: their servers refuse connections now.
    expect(upstreams.filter((u) => u.body.startsWith('release-') && u.closed)).toHaveLength(20);
  });
});

interface Upstream {
  body: string;
  address: string;
  requests: number;
  closed: boolean;
  close(opts?: { force?: boolean }): Promise<void>;
}

/** A release stand-in: answers every request with its own body, after `delayMs`. */
async function startUpstream(body: string, { delayMs = 0 } = {}): Promise<Upstream> {
  const server: Server = createServer((_req, res) => {
    upstream.requests++;
    const send = () => res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
    if (delayMs) setTimeout(send, delayMs);
    else send();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const upstream: Upstream = {
    body,
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: 0,
    closed: false,
    // Like a container on `docker stop`: stop accepting, finish what is in flight.
    close: ({ force = false } = {}) =>
      new Promise<void>((resolve) => {
        if (upstream.closed) return resolve();
        upstream.closed = true;
        server.close(() => resolve());
        if (force) server.closeAllConnections();
        // Connections that never carried a request would otherwise be held until Node's
        // headers timeout; a stopped container would not keep them either.
        else setTimeout(() => server.closeAllConnections(), 1_000).unref();
      }),
  };
  upstreams.push(upstream);
  return upstream;
}

/** Sockets that have carried a whole response: a request on one of them is on a reused connection. */
const usedSockets = new WeakSet<Socket>();

/** One request through Caddy's HTTP server with the given Host. */
function get(host: string, agent: Agent | false = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let socket: Socket | undefined;
    let reused = false;
    const req = request({ host: '127.0.0.1', port: caddy.httpPort, path: '/', headers: { host }, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        if (socket) usedSockets.add(socket);
        resolve({ status: res.statusCode!, body });
      });
      res.on('error', reject);
    });
    // Not req.reusedSocket: the agent leaves it false when it hands a freed socket straight to a
    // queued request.
    req.on('socket', (s) => {
      socket = s;
      reused = usedSockets.has(s);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no response within 10s')));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (reused && err.code === 'ECONNRESET') reject(new ReusedConnectionClosed(err));
      else reject(err);
    });
    req.end();
  });
}

interface Reply {
  status: number;
  body: string;
}

class ReusedConnectionClosed extends Error {
  constructor(cause: Error) {
    super(`reused connection closed before any response: ${cause.message}`, { cause });
  }
}

interface LoadResult {
  keepAlive: { ok: number };
  fresh: { ok: number };
  bodies: Map<string, number>;
  failures: string[];
}

/**
 * A steady load on one host until stopped: four loops over keep-alive connections (one shared
 * pool, as a browser or another proxy would reuse them) and four opening a connection per request,
 * none of them ever retrying. A request fails on any error (a reused connection closed under it
 * too) or any answer other than 200 with one of `expected` bodies.
 */
function startLoad(host: string, expected: Set<string>): { stop(): Promise<LoadResult> } {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const result: LoadResult = { keepAlive: { ok: 0 }, fresh: { ok: 0 }, bodies: new Map(), failures: [] };
  let running = true;
  const loop = async (keepAlive: boolean) => {
    const kind = keepAlive ? 'keep-alive' : 'fresh';
    while (running) {
      try {
        const res = await get(host, keepAlive ? agent : false);
        if (res.status === 200 && expected.has(res.body)) {
          (keepAlive ? result.keepAlive : result.fresh).ok++;
          result.bodies.set(res.body, (result.bodies.get(res.body) ?? 0) + 1);
        } else {
          result.failures.push(`${kind}: ${res.status} ${res.body.slice(0, 200)}`);
        }
      } catch (err) {
        result.failures.push(`${kind}: ${(err as Error).message}`);
      }
    }
  };
  const loops = [...Array.from({ length: 4 }, () => loop(true)), ...Array.from({ length: 4 }, () => loop(false))];
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return result;
    },
  };
}

async function adminGet(path: string): Promise<unknown> {
  const res = await fetch(`${caddy.adminUrl}${path}`);
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function adminSend(method: string, path: string, body?: unknown): Promise<void> {
  const res = await fetch(`${caddy.adminUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
}

async function until(check: () => boolean, timeoutMs = 5_000) {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}
