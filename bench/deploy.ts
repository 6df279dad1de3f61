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
    'load-deploys': { type: 'string', default: '10' },
    'load-runs': { type: 'string', default: '1' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(
    'usage: npm run bench:deploy -- [--rounds N (push→serving samples, default 3)] [--load-loops L (default 4)]\n' +
      '                              [--load-deploys D (deploys per loaded run, default 10)] [--load-runs R (loaded runs, default 1)]',
  );
  process.exit(0);
}
const rounds = Number(values.rounds);
const loadLoops = Number(values['load-loops']);
const loadDeploys = Number(values['load-deploys']);
const loadRuns = Number(values['load-runs']);
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
  // The node's proxy, with the moment of every change it is asked for, to place each failed request.
  const proxyChanges: Array<{ what: string; startedAt: number; endedAt: number }> = [];
  const caddyProxy = new CaddyProxy({ adminUrl: caddy.adminUrl, listen: [`127.0.0.1:${caddy.httpPort}`], upstreamsDir: caddy.upstreamsDir });
  const timedChange =
    <A extends unknown[], R>(what: string, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const startedAt = Date.now();
      try {
        return await call(...args);
      } finally {
        proxyChanges.push({ what, startedAt, endedAt: Date.now() });
      }
    };
  const nodeId = await p.addDockerNode({
    ensureServer: () => caddyProxy.ensureServer(),
    getRoute: (id) => caddyProxy.getRoute(id),
    setRoute: timedChange('setRoute', (route) => caddyProxy.setRoute(route)),
    removeRoute: timedChange('removeRoute', (id) => caddyProxy.removeRoute(id)),
    setStaticRoute: timedChange('setStaticRoute', (route) => caddyProxy.setStaticRoute(route)),
  });
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
      const req = request({ host: '127.0.0.1', port: caddy.httpPort, path: '/', headers: { host: hostname }, agent: keepAlive ? agent : false, timeout: 5000 }, (res) => {
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

  // Container stops as the engine reports them (the old release's `kill` and `die`), to place failures.
  const engineEvents: Array<{ what: string; at: number }> = [];
  const events = (await docker.getEvents({ filters: { type: ['container'], event: ['kill', 'die'], label: [`${DockerLabel.tenant}=${p.tenantId}`] } })) as NodeJS.ReadableStream & { destroy(): void };
  let pendingEvents = '';
  events.on('data', (chunk: Buffer) => {
    pendingEvents += chunk.toString();
    let nl: number;
    while ((nl = pendingEvents.indexOf('\n')) >= 0) {
      const line = pendingEvents.slice(0, nl);
      pendingEvents = pendingEvents.slice(nl + 1);
      if (!line.trim()) continue;
      const e = JSON.parse(line) as { Action: string; timeNano: number };
      engineEvents.push({ what: e.Action, at: e.timeNano / 1e6 });
    }
  });

  type Kind = 'keep-alive' | 'new connection';
  interface Failure {
    kind: Kind;
    run: number;
    /** Wall clock (ms) when the request was sent, and how long it had been out when it failed. */
    sentAt: number;
    afterMs: number;
    reusedSocket: boolean;
    error: string;
  }
  const loadedRuns: Array<{ run: number; deploys: number; byKind: Record<Kind, { requests: number; failed: number }>; deployStatuses: Record<string, number> }> = [];
  const failures: Failure[] = [];
  for (let run = 1; run <= loadRuns; run++) {
    log(`run ${run}/${loadRuns}: ${loadDeploys} deploys under steady load (${loadLoops} loops, half keep-alive, no retries)…`);
    const agent = new Agent({ keepAlive: true });
    const byKind: Record<Kind, { requests: number; failed: number }> = { 'keep-alive': { requests: 0, failed: 0 }, 'new connection': { requests: 0, failed: 0 } };
    let loading = true;
    const loop = async (kind: Kind) => {
      while (loading) {
        const sentAt = Date.now();
        const t0 = performance.now();
        // No retry of any kind: a client that gives up at the first error, as many HTTP clients do.
        const outcome = await get(kind === 'keep-alive').then(
          (res) => (res.status === 200 ? null : { error: `HTTP ${res.status}: ${res.body.slice(0, 80)}`, reused: false }),
          (err: Error & { reused?: boolean; code?: string }) => ({ error: err.code ?? err.message, reused: err.reused ?? false }),
        );
        byKind[kind].requests++;
        if (outcome) {
          byKind[kind].failed++;
          failures.push({ kind, run, sentAt, afterMs: Math.round((performance.now() - t0) * 10) / 10, reusedSocket: outcome.reused, error: outcome.error });
        }
      }
    };
    const load = Promise.all(Array.from({ length: loadLoops }, (_, i) => loop(i % 2 === 0 ? 'keep-alive' : 'new connection')));
    const deployStatuses: Record<string, number> = {};
    try {
      for (let d = 0; d < loadDeploys; d++) {
        const r = await push(`run ${run} deploy ${d}`);
        deployStatuses[r.release.status] = (deployStatuses[r.release.status] ?? 0) + 1;
      }
    } finally {
      loading = false;
      await load;
      agent.destroy();
    }
    loadedRuns.push({ run, deploys: loadDeploys, byKind, deployStatuses });
    log(`run ${run}: keep-alive ${byKind['keep-alive'].failed}/${byKind['keep-alive'].requests} failed, new connection ${byKind['new connection'].failed}/${byKind['new connection'].requests} failed`);
  }
  events.destroy();
  // Each failure next to the nearest proxy change and container stop, in ms (negative: before it).
  const nearest = (at: number, times: number[]) => times.reduce<number | null>((best, t) => (best === null || Math.abs(at - t) < Math.abs(best) ? at - t : best), null);
  const placed = failures.map((f) => ({
    ...f,
    sinceProxyChangeStartMs: nearest(f.sentAt, proxyChanges.map((c) => c.startedAt)),
    sinceProxyChangeEndMs: nearest(f.sentAt, proxyChanges.map((c) => c.endedAt)),
    sinceContainerKillMs: nearest(f.sentAt, engineEvents.filter((e) => e.what === 'kill').map((e) => e.at)),
  }));

  const servingMs = pushes.map((x) => x.serving).sort((a, b) => a - b);
  const phase = (key: string) => Math.round(pushes.reduce((s, x) => s + (x.timings[key] ?? 0), 0) / pushes.length);
  const phases = { fetchMs: phase('fetchMs'), buildMs: phase('buildMs'), startMs: phase('startMs'), healthMs: phase('healthMs'), switchMs: phase('switchMs') };
  const meanServing = servingMs.reduce((a, b) => a + b, 0) / servingMs.length;
  const summary = {
    schema: 1,
    pushToServing: { p50Ms: round(percentile(servingMs, 50), 0), maxMs: round(servingMs.at(-1)!, 0), samples: servingMs.length, phasesMeanMs: phases },
    overheadMeanMs: round(meanServing - Object.values(phases).reduce((a, b) => a + b, 0), 0),
    rollback: { servingMs: round(rollbackServing, 0), status: rollbackRelease.status, rebuilt: rollbackRelease.timings.buildMs !== undefined, phasesMs: rollbackRelease.timings },
    underLoad: {
      runs: loadedRuns,
      failedRuns: loadedRuns.filter((r) => r.byKind['keep-alive'].failed + r.byKind['new connection'].failed > 0).length,
      failures: placed,
      proxyChanges: proxyChanges.length,
    },
  };

  console.log(
    [
      '',
      'deploy of the sample app (busybox httpd, local git, real Caddy)      ',
      `push → serving      p50 ${summary.pushToServing.p50Ms} ms, max ${summary.pushToServing.maxMs} ms (${rounds} pushes)`,
      `  phases (mean)     fetch ${phases.fetchMs} · build ${phases.buildMs} · start ${phases.startMs} · health ${phases.healthMs} · switch ${phases.switchMs} ms`,
      `  around the phases ${summary.overheadMeanMs} ms (webhook, queueing, workflow and activity dispatch, release bookkeeping)`,
      `rollback → serving  ${summary.rollback.servingMs} ms (image reused: ${!summary.rollback.rebuilt})`,
      `under steady load   ${loadDeploys} deploys per run, ${loadLoops} loops, no client retries; failed / requests:`,
      ...loadedRuns.map(
        (r) =>
          `  run ${r.run}             keep-alive ${r.byKind['keep-alive'].failed} / ${r.byKind['keep-alive'].requests} · new connection ${r.byKind['new connection'].failed} / ${r.byKind['new connection'].requests} (deploys: ${Object.entries(r.deployStatuses).map(([k, v]) => `${v} ${k}`).join(', ')})`,
      ),
      ...placed.slice(0, 20).map(
        (f) =>
          `  failed: run ${f.run} ${f.kind}${f.reusedSocket ? ' (reused socket)' : ''} ${f.error} after ${f.afterMs} ms; sent ${f.sinceProxyChangeEndMs} ms from a proxy change's end, ${f.sinceContainerKillMs} ms from a container kill`,
      ),
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
