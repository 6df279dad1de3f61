import { serve } from '@hono/node-server';
import { DockerLabel } from '@keelson/common/constants';
import { auditLog } from '@keelson/db/schema';
import { and, eq } from 'drizzle-orm';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import WebSocket from 'ws';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../../../test/platform';
import { waitForRun } from '../../../../test/runs';

const IMAGE = 'keelson/busybox:latest';

/** One terminal as a browser would hold it: the output so far and how it closed. */
interface Terminal {
  ws: WebSocket;
  output(): string;
  /** JSON control messages the server sent (text frames). */
  controls: unknown[];
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
}

describe('container terminal over a real WebSocket', () => {
  let p: TestPlatform;
  let server: Server;
  let base: string;
  let tenantId: string;
  let operator: SignedIn;
  let viewer: SignedIn;
  let stranger: SignedIn;
  let containerId: string;

  const origin = () => base.replace('ws:', 'http:');

  /** Opens the socket; a refused handshake resolves with its HTTP status instead. */
  function open(path: string, headers: Record<string, string>): Promise<{ status: 101; terminal: Terminal } | { status: number }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${base}${path}`, { headers });
      let text = '';
      const controls: unknown[] = [];
      const waiters = new Set<() => void>();
      ws.on('message', (data: Buffer, isBinary) => {
        if (isBinary) text += data.toString('utf8');
        else controls.push(JSON.parse(data.toString('utf8')));
        for (const w of waiters) w();
      });
      const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
      const terminal: Terminal = {
        ws,
        output: () => text,
        controls,
        closed,
        waitFor(expected, timeoutMs = 10_000) {
          const seen = () => (typeof expected === 'string' ? text.includes(expected) : expected.test(text));
          return new Promise((res, rej) => {
            if (seen()) return res();
            const timer = setTimeout(() => {
              waiters.delete(check);
              rej(new Error(`no ${String(expected)} in the terminal within ${timeoutMs} ms; it shows:\n${text}`));
            }, timeoutMs);
            const check = () => {
              if (!seen()) return;
              clearTimeout(timer);
              waiters.delete(check);
              res();
            };
            waiters.add(check);
          });
        },
      };
      ws.once('open', () => resolve({ status: 101, terminal }));
      ws.once('unexpected-response', (req, res) => {
        res.resume();
        req.destroy();
        resolve({ status: res.statusCode ?? 0 });
      });
      ws.once('error', reject);
    });
  }

  async function openTerminal(as: SignedIn = operator, query = ''): Promise<Terminal> {
    const res = await open(`/api/containers/${containerId}/terminal${query}`, { cookie: as.cookie, origin: origin() });
    expect(res.status).toBe(101);
    return (res as { terminal: Terminal }).terminal;
  }

  const dockerContainer = async () => {
    const [info] = await p.docker.listContainers({ all: true, filters: { label: [`${DockerLabel.container}=${containerId}`] } });
    return p.docker.getContainer(info!.Id);
  };
  /** The commands running in the container, as `docker top` shows them. */
  const processes = async () => ((await (await dockerContainer()).top()).Processes ?? []).map((row: string[]) => row.at(-1)!);

  async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 15_000) {
    const until = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > until) throw new Error(`${what}: not within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  beforeAll(async () => {
    p = await createTestPlatform();
    await p.startCoreWorker();
    tenantId = (await p.createTenant()).id;
    operator = await p.signIn({ tenantId, role: 'operator' });
    viewer = await p.signIn({ tenantId, role: 'viewer' });
    stranger = await p.signIn({ tenantId: (await p.createTenant()).id, role: 'owner' });
    const nodeId = (await p.addDockerNode(tenantId)).id;

    server = serve({ fetch: p.app.fetch, hostname: '127.0.0.1', port: 0 }) as Server;
    p.app.injectWebSocket(server);
    await new Promise<void>((r) => (server.listening ? r() : server.once('listening', () => r())));
    base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const bp = await p.request('/api/blueprints', {
      headers: operator.headers,
      body: { name: 'shell-bp', image: IMAGE, command: ['sh', '-c', 'exec sleep 3600'] },
    });
    expect(bp.status, await bp.clone().text()).toBe(201);
    const created = await p.request('/api/containers', {
      headers: operator.headers,
      body: { name: 'shell', nodeId, blueprintId: ((await bp.json()) as { id: string }).id, logCaptureSeconds: 0 },
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const { container, run } = (await created.json()) as { container: { id: string }; run: { workflowId: string } };
    containerId = container.id;
    expect(await waitForRun(p, run.workflowId)).toBe('COMPLETED');
  });

  afterAll(async () => {
    await p.app.closeTerminals();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    const mine = await p.docker.listContainers({ all: true, filters: { label: [`${DockerLabel.tenant}=${tenantId}`] } });
    for (const c of mine) await p.docker.getContainer(c.Id).remove({ force: true });
    await p.close();
  });

  it('runs a shell: keystrokes in, output out, resized, audited, and gone once the socket closes', async () => {
    const t = await openTerminal();
    // If an assertion fails, the session must still end, or the next test sees its shell.
    onTestFinished(() => t.ws.terminate());
    t.ws.send(Buffer.from('echo hello-$((6*7))\n'));
    await t.waitFor('hello-42');

    // The resize reaches Docker asynchronously: ask for the size until the new one shows.
    t.ws.send(JSON.stringify({ type: 'resize', cols: 120, rows: 40 }));
    await eventually(async () => {
      t.ws.send(Buffer.from('stty size\n'));
      await new Promise((r) => setTimeout(r, 300));
      return t.output().includes('40 120');
    }, 'the new terminal size');

    // A job in the background must end with the session too, not only the shell.
    t.ws.send(Buffer.from('sleep 4242 &\n'));
    await eventually(async () => (await processes()).includes('sleep 4242'), 'background job started');
    expect(await processes()).toContain('sh');

    const [row] = await p.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.tenantId, tenantId), eq(auditLog.action, 'container.exec'), eq(auditLog.resourceId, containerId)));
    expect(row).toMatchObject({ actorType: 'user', actorId: operator.userId, resourceType: 'container', details: { shell: 'sh', name: 'shell' } });

    // Docker lists an exec only while it runs: this one is the shell's.
    const execIds = (await (await dockerContainer()).inspect()).ExecIDs ?? [];
    expect(execIds).toHaveLength(1);

    t.ws.close();
    await t.closed;
    await eventually(async () => {
      const info = await p.docker.getExec(execIds[0]!).inspect().catch(() => null); // 404 once Docker forgets it
      const left = await processes();
      return !info?.Running && !left.includes('sh') && !left.includes('sleep 4242');
    }, 'the shell and its job ended');
    const left = await processes();
    expect(left).toContain('sleep 3600');
  });

  it('ends the shell when the browser vanishes without a close frame', async () => {
    const t = await openTerminal();
    onTestFinished(() => t.ws.terminate());
    t.ws.send(Buffer.from('echo ready\n'));
    await t.waitFor('ready');
    expect(await processes()).toContain('sh');
    t.ws.terminate();
    await eventually(async () => !(await processes()).includes('sh'), 'shell gone');
  });

  it('closes with the exit code when the shell exits, and answers a bad resize with an error message', async () => {
    const t = await openTerminal(operator, '?shell=ash');
    t.ws.send(JSON.stringify({ type: 'resize', cols: 0, rows: 5000 }));
    await eventually(async () => t.controls.length > 0, 'an error control message');
    expect(t.controls[0]).toMatchObject({ type: 'error', message: expect.stringMatching(/cols.*rows|rows.*cols/s) });
    t.ws.send(Buffer.from('exit 3\n'));
    expect(await t.closed).toEqual({ code: 1000, reason: 'shell exited with code 3' });
  });

  it('refuses the handshake without a session (401), without container.exec (403), from another origin (403) or with no origin (403)', async () => {
    const path = `/api/containers/${containerId}/terminal`;
    expect((await open(path, { origin: origin() })).status).toBe(401);
    expect((await open(path, { cookie: viewer.cookie, origin: origin() })).status).toBe(403);
    expect((await open(path, { cookie: operator.cookie, origin: 'https://evil.example' })).status).toBe(403);
    expect((await open(path, { cookie: operator.cookie })).status).toBe(403);
    const allowed = await open(path, { cookie: operator.cookie, origin: origin() });
    expect(allowed.status).toBe(101);
    (allowed as { terminal: Terminal }).terminal.ws.close();
  });

  it("is a 404 for another organization's container, 400 for an unknown shell, 426 without an upgrade; documented", async () => {
    expect((await open(`/api/containers/${containerId}/terminal`, { cookie: stranger.cookie, origin: origin() })).status).toBe(404);
    expect((await open(`/api/containers/${containerId}/terminal?shell=zsh`, { cookie: operator.cookie, origin: origin() })).status).toBe(400);
    const plain = await p.request(`/api/containers/${containerId}/terminal`, { headers: { cookie: operator.cookie, origin: 'http://localhost', host: 'localhost' } });
    expect(plain.status).toBe(426);
    expect(await plain.json()).toMatchObject({ code: 'upgrade_required' });
    const doc = (await (await p.request('/api/openapi.json')).json()) as { paths: Record<string, { get?: { responses: Record<string, unknown> } }> };
    expect(Object.keys(doc.paths['/api/containers/{id}/terminal']?.get?.responses ?? {})).toEqual(expect.arrayContaining(['101', '401', '403', '404', '409', '426']));
  });

  it('is a 409 once the container is stopped', async () => {
    const stop = await p.request(`/api/containers/${containerId}/actions`, { headers: operator.headers, body: { action: 'stop', stopTimeoutSeconds: 0 } });
    expect(stop.status).toBe(202);
    expect(await waitForRun(p, ((await stop.json()) as { workflowId: string }).workflowId)).toBe('COMPLETED');
    expect((await open(`/api/containers/${containerId}/terminal`, { cookie: operator.cookie, origin: origin() })).status).toBe(409);
  });
});
