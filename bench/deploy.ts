/**
 * `npm run bench:deploy`: what a user of the deploy operation waits for and sees, on the sample
 * app (a local git repository, busybox httpd built from the local base image) through a real Caddy:
 *   push → serving     from a commit pushed (and its GitHub webhook sent) until Caddy serves it
 *   rollback           from the rollback request until Caddy serves the earlier release again
 *   failed requests    while a deploy runs under a steady load through Caddy
 * Each deploy's own phase timings (fetch, build, start, health, switch) come from its release, so
 * the time Keelson adds around Docker's build and the health check is visible. Progress on stderr;
 * a table and, last, a one-line JSON summary on stdout (also in bench/results/).
 */
import { CaddyProxy } from '@keelson/activities/caddy/proxy';
import { DockerLabel } from '@keelson/common/constants';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import Docker from 'dockerode';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startCaddy } from '../test/caddy';
import { createSampleApp, SAMPLE_APP_PORT } from '../test/sample-app';
import { startBenchPlatform } from './platform';
import { percentile, round } from './stats';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    'load-loops': { type: 'string', default: '4' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('usage: npm run bench:deploy -- [--rounds N (push→serving samples, default 3)] [--load-loops L (default 4)]');
  process.exit(0);
}
const rounds = Number(values.rounds);
const loadLoops = Number(values['load-loops']);
const log = (msg: string) => process.stderr.write(`bench │ ${msg}\n`);
Runtime.install({ logger: new DefaultLogger('WARN') });

interface Release {
  id: string;
  status: string;
  error: string | null;
  timings: Record<string, number>;
  finishedAt: string | null;
}

const p = await startBenchPlatform();
const caddy = await startCaddy();
const sample = createSampleApp();
const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const stopAll = async () => {
  // The releases the bench deployed are its own: nothing of them stays on the engine.
  for (const c of await docker.listContainers({ all: true, filters: { label: [`${DockerLabel.tenant}=${p.tenantId}`] } })) {
    await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  }
  await p.close();
  await caddy.stop();
  sample.remove();
};
process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));

try {
  const nodeId = await p.addDockerNode(new CaddyProxy({ adminUrl: caddy.adminUrl, listen: [`127.0.0.1:${caddy.httpPort}`] }));
  const api = async <T>(path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${p.baseUrl}${path}`, {
      method: body ? 'POST' : 'GET',
      headers: { ...p.auth, 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (res.status >= 300) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const hostname = 'bench-app.test';
  const app = await api<{ id: string; webhookSecret: string }>('/api/apps', {
    name: 'bench-app',
    repoUrl: sample.repoUrl,
    containerPort: SAMPLE_APP_PORT,
    healthCheck: { path: '/health', expectedStatus: 200, timeoutSeconds: 30, passes: 2 },
    nodeId,
    hostname,
    watchSeconds: 5,
    drainSeconds: 2,
  });

  const agent = new Agent({ keepAlive: true });
  const get = (keepAlive: boolean) =>
    new Promise<{ status: number; body: string; reused: boolean }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: caddy.httpPort, path: '/', headers: { host: hostname }, agent: keepAlive ? agent : undefined, timeout: 5000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, reused: false }));
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err) => reject(Object.assign(err, { reused: req.reusedSocket })));
      req.end();
    });
  const servedAfter = async (body: string, since: number) => {
    for (;;) {
      const res = await get(false).catch(() => undefined);
      if (res?.status === 200 && res.body === body) return performance.now() - since;
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const releaseDone = async (id: string): Promise<Release> => {
    for (;;) {
      const r = (await api<{ items: Release[] }>(`/api/apps/${app.id}/releases`)).items.find((x) => x.id === id);
      if (r?.finishedAt) return r;
      await new Promise((res) => setTimeout(res, 100));
    }
  };
  const bodies = new Map<string, string>();
  const push = async (body: string) => {
    const t0 = performance.now();
    const commit = sample.release(body);
    const payload = JSON.stringify({ ref: 'refs/heads/main', before: '0'.repeat(40), after: commit, repository: { full_name: 'acme/bench' } });
    const res = await fetch(`${p.baseUrl}/api/webhooks/github/${app.id}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-github-delivery': randomUUID(),
        'x-hub-signature-256': `sha256=${createHmac('sha256', app.webhookSecret).update(payload).digest('hex')}`,
      },
      body: payload,
    });
    const { releaseId } = (await res.json()) as { releaseId: string };
    bodies.set(releaseId, body);
    const serving = await servedAfter(body, t0);
    return { releaseId, serving, release: await releaseDone(releaseId) };
  };

  log('first deploy (warms the build cache and the node)…');
  const warm = await push('warm-up');
  if (warm.release.status !== 'live') throw new Error(`warm-up deploy ended ${warm.release.status}: ${warm.release.error}`);

  const pushes: Array<{ serving: number; timings: Record<string, number> }> = [];
  for (let i = 0; i < rounds; i++) {
    log(`push → serving ${i + 1}/${rounds}…`);
    const r = await push(`release ${i}`);
    pushes.push({ serving: r.serving, timings: r.release.timings });
  }

  log('rollback on demand…');
  const target = (await api<{ items: Array<{ id: string; status: string }> }>(`/api/apps/${app.id}/releases`)).items.find((r) => r.status === 'retired')!;
  const t0 = performance.now();
  const back = await api<{ releaseId: string }>(`/api/apps/${app.id}/rollback`, { releaseId: target.id });
  const rollbackServing = await servedAfter(bodies.get(target.id)!, t0);
  const rollbackRelease = await releaseDone(back.releaseId);

  log(`a deploy under steady load (${loadLoops} loops, half keep-alive)…`);
  let ok = 0;
  let failed = 0;
  let retried = 0;
  const errors = new Map<string, number>();
  let loading = true;
  const loop = async (keepAlive: boolean) => {
    while (loading) {
      try {
        const res = await get(keepAlive).catch(async (err: Error & { reused?: boolean }) => {
          // A kept-alive connection closed under the request by a config change: retried once,
          // as browsers do (HTTP allows it for idempotent requests). Counted separately.
          if (!err.reused) throw err;
          retried++;
          return get(keepAlive);
        });
        if (res.status === 200) ok++;
        else {
          failed++;
          errors.set(`HTTP ${res.status}`, (errors.get(`HTTP ${res.status}`) ?? 0) + 1);
        }
      } catch (err) {
        failed++;
        errors.set((err as Error).message, (errors.get((err as Error).message) ?? 0) + 1);
      }
    }
  };
  const load = Promise.all(Array.from({ length: loadLoops }, (_, i) => loop(i % 2 === 0)));
  const underLoad = await push('under load');
  loading = false;
  await load;
  agent.destroy();

  const servingMs = pushes.map((x) => x.serving).sort((a, b) => a - b);
  const phase = (key: string) => Math.round(pushes.reduce((s, x) => s + (x.timings[key] ?? 0), 0) / pushes.length);
  const phases = { fetchMs: phase('fetchMs'), buildMs: phase('buildMs'), startMs: phase('startMs'), healthMs: phase('healthMs'), switchMs: phase('switchMs') };
  const meanServing = servingMs.reduce((a, b) => a + b, 0) / servingMs.length;
  const summary = {
    schema: 1,
    pushToServing: { p50Ms: round(percentile(servingMs, 50), 0), maxMs: round(servingMs.at(-1)!, 0), samples: servingMs.length, phasesMeanMs: phases },
    overheadMeanMs: round(meanServing - Object.values(phases).reduce((a, b) => a + b, 0), 0),
    rollback: { servingMs: round(rollbackServing, 0), status: rollbackRelease.status, rebuilt: rollbackRelease.timings.buildMs !== undefined, phasesMs: rollbackRelease.timings },
    underLoad: { requests: ok + failed, ok, failed, keepAliveRetries: retried, errors: Object.fromEntries(errors), deployStatus: underLoad.release.status },
  };

  console.log(
    [
      '',
      'deploy of the sample app (busybox httpd, local git, real Caddy)      ',
      `push → serving      p50 ${summary.pushToServing.p50Ms} ms, max ${summary.pushToServing.maxMs} ms (${rounds} pushes)`,
      `  phases (mean)     fetch ${phases.fetchMs} · build ${phases.buildMs} · start ${phases.startMs} · health ${phases.healthMs} · switch ${phases.switchMs} ms`,
      `  around the phases ${summary.overheadMeanMs} ms (webhook, queueing, workflow and activity dispatch, release bookkeeping)`,
      `rollback → serving  ${summary.rollback.servingMs} ms (image reused: ${!summary.rollback.rebuilt})`,
      `under steady load   ${summary.underLoad.requests} requests, ${summary.underLoad.failed} failed, ${summary.underLoad.keepAliveRetries} keep-alive retries`,
      '',
      JSON.stringify(summary),
    ].join('\n'),
  );
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/deploy-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, JSON.stringify(summary, null, 2));
} finally {
  await stopAll();
}
