import { keelsonCodec } from '@keelson/common/temporal';
import { createPostgresDataKeys } from '@keelson/db';
import { apps, auditLog, releases, runLogs } from '@keelson/db/schema';
import { eq } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, TEST_KEYS, type SignedIn, type TestPlatform } from '../../../../test/platform';
import { until } from '../../../../test/worker-process';

/**
 * Issue 10, finding 2: a private repository's URL (`http://user:TOKEN@host/x.git`) whose fetch
 * fails put TOKEN into history, the release, the app and the run. Now the token is sealed at
 * rest, shown masked, handed to git in its environment only, and scrubbed from what git says.
 */
describe('credentials in a repository URL', () => {
  let p: TestPlatform;
  let operator: SignedIn;
  let nodeId: string;
  let server: Server;
  let port: number;
  const seenAuthorization: string[] = [];
  const TOKEN = `tok-${randomUUID()}`;
  const USER = 'deploy-bot';

  beforeAll(async () => {
    p = await createTestPlatform();
    const tenant = await p.createTenant();
    operator = await p.signIn({ tenantId: tenant.id, role: 'operator' });
    await p.startCoreWorker();
    nodeId = (await p.addDockerNode(tenant.id)).id;
    // A "private git host" that refuses every request, remembering the credentials it was shown.
    server = createServer((req, res) => {
      seenAuthorization.push(req.headers.authorization ?? '');
      res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    server?.close();
    await p.close();
  });

  const api = async <T>(path: string, init: { method?: string; body?: unknown } = {}) => {
    const res = await p.request(path, { headers: operator.headers, ...init });
    const text = await res.text();
    expect(res.status, text).toBeLessThan(300);
    return { body: JSON.parse(text) as T, text };
  };

  it('never shows the token, and git gets it without it appearing anywhere', { timeout: 180_000 }, async () => {
    const repoUrl = `http://${USER}:${TOKEN}@127.0.0.1:${port}/private/app.git`;
    const created = await api<{ id: string; repoUrl: string }>('/api/apps', {
      body: { name: 'private-app', repoUrl, containerPort: 8080, hostname: `priv-${randomUUID().slice(0, 8)}.test`, nodeId },
    });
    expect(created.text).not.toContain(TOKEN);
    expect(created.body.repoUrl).toBe(`http://****@127.0.0.1:${port}/private/app.git`);
    const appId = created.body.id;
    const [row] = await p.db.select().from(apps).where(eq(apps.id, appId));
    expect(row!.repoUrl).toBe(`http://127.0.0.1:${port}/private/app.git`);
    expect(row!.repoCredentialsSealed).toMatch(/^v1\./);
    expect(JSON.stringify(row)).not.toContain(TOKEN);

    const queued = await api<{ releaseId: string; workflowId: string }>(`/api/apps/${appId}/deploys`, { body: {} });
    const release = await until(
      'the deploy to fail',
      async () => {
        const [r] = await p.db.select().from(releases).where(eq(releases.id, queued.body.releaseId));
        return r && r.finishedAt ? r : undefined;
      },
      120_000,
    );
    expect(release.status).toBe('failed');
    expect(release.error).toContain('refused the credentials');

    // git was given the token: as an Authorization header, not in the URL.
    expect(seenAuthorization).toContain(`Basic ${Buffer.from(`${USER}:${TOKEN}`).toString('base64')}`);

    // Nowhere to be seen: API answers (app, list, releases, runs with payloads decoded)…
    const answers = [
      (await api(`/api/apps/${appId}`)).text,
      (await api('/api/apps')).text,
      (await api(`/api/apps/${appId}/releases`)).text,
      (await api(`/api/runs/${encodeURIComponent(queued.body.workflowId)}`)).text,
      (await api(`/api/runs/${encodeURIComponent(`app/${appId}/deployer`)}`)).text,
    ];
    for (const answer of answers) expect(answer).not.toContain(TOKEN);
    // …the run's output, the audit log, the release records…
    const logs = await p.db.select().from(runLogs).where(eq(runLogs.workflowId, queued.body.workflowId));
    expect(logs.length).toBeGreaterThan(0);
    expect(JSON.stringify(logs)).not.toContain(TOKEN);
    expect(JSON.stringify(await p.db.select().from(auditLog))).not.toContain(TOKEN);
    expect(JSON.stringify(await p.db.select().from(releases))).not.toContain(TOKEN);
    // …Temporal's history, raw and with every payload opened…
    const codec = keelsonCodec(TEST_KEYS, createPostgresDataKeys(p.db, TEST_KEYS));
    for (const workflowId of [queued.body.workflowId, `app/${appId}/deployer`]) {
      const raw = await p.temporal.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId } });
      expect(JSON.stringify(raw.history)).not.toContain(TOKEN);
      const payloads: Array<{ metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null }> = [];
      const collect = (node: unknown) => {
        if (!node || typeof node !== 'object' || ArrayBuffer.isView(node)) return;
        const candidate = node as { metadata?: Record<string, Uint8Array>; data?: Uint8Array };
        if (candidate.metadata && candidate.data instanceof Uint8Array) payloads.push(candidate);
        for (const child of Object.values(node)) collect(child);
      };
      collect(raw.history);
      expect(payloads.length).toBeGreaterThan(0);
      const opened = await codec.decode(payloads as never);
      expect(opened.map((o) => Buffer.from(o.data ?? []).toString()).join('\n')).not.toContain(TOKEN);
    }
    // …and the clone's git config on the node.
    for (const dir of readdirSync(tmpdir()).filter((d) => d.startsWith('keelson-node-'))) {
      const config = join(tmpdir(), dir, 'apps', appId, 'source', '.git', 'config');
      if (existsSync(config)) expect(readFileSync(config, 'utf8')).not.toContain(TOKEN);
    }
  });

  it('keeps the credentials when the masked URL is sent back, and drops them for a plain URL', async () => {
    const created = await api<{ id: string; repoUrl: string }>('/api/apps', {
      body: { name: 'masked', repoUrl: `https://u:${TOKEN}@git.example.test/a.git`, containerPort: 80, hostname: `m-${randomUUID().slice(0, 8)}.test`, nodeId },
    });
    const sealed = async () => (await p.db.select().from(apps).where(eq(apps.id, created.body.id)))[0]!.repoCredentialsSealed;
    const before = await sealed();
    const kept = await api<{ repoUrl: string }>(`/api/apps/${created.body.id}`, { method: 'PATCH', body: { repoUrl: created.body.repoUrl } });
    expect(kept.body.repoUrl).toBe('https://****@git.example.test/a.git');
    expect(await sealed()).toBe(before);
    const plain = await api<{ repoUrl: string }>(`/api/apps/${created.body.id}`, { method: 'PATCH', body: { repoUrl: 'https://git.example.test/a.git' } });
    expect(plain.body.repoUrl).toBe('https://git.example.test/a.git');
    expect(await sealed()).toBeNull();
    const ssh = await p.request(`/api/apps/${created.body.id}`, { method: 'PATCH', headers: operator.headers, body: { repoUrl: 'ssh://git:pw@git.example.test/a.git' } });
    expect(ssh.status).toBe(400);
    expect(await ssh.text()).not.toContain('pw@');
  });
});
