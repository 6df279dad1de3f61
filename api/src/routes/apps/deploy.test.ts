import { restoreAppRoutes } from '@keelson/activities';
import { appRouteId } from '@keelson/common/constants';
import { Agent } from 'node:http';
import { describe, expect, it } from 'vitest';
import { setupDeployWorld } from '../../../../test/deploy-harness';
import { logText, readRunStream, waitForRun } from '../../../../test/runs';

/**
 * Deploys of a sample app from a local git repository, through a real Caddy, on the real engine.
 * Each test builds images and runs several deploys, which on two shared cores takes 15–60 s;
 * the budget is per test, not a speed goal (those live in bench/).
 */
describe('deploying apps from git', { timeout: 150_000 }, () => {
  const w = setupDeployWorld();

  it('builds a commit, switches traffic to it through Caddy, and records the release', async () => {
    const app = await w.createApp();
    expect(app.webhookSecret).toMatch(/^whsec_/);
    const commit = w.sample.release('version one');
    const queued = await w.deploy(app.id);
    const release = await w.releaseDone(app.id, queued.releaseId);
    expect(release, release.error ?? '').toMatchObject({ status: 'live', commitSha: commit, image: `keelson-app-${app.id}:${commit.slice(0, 12)}` });
    expect(release.timings).toMatchObject({ fetchMs: expect.any(Number), buildMs: expect.any(Number), healthMs: expect.any(Number), switchMs: expect.any(Number) });
    expect(await w.viaProxy(app.hostname)).toEqual({ status: 200, body: 'version one' });
    expect((await w.api<{ currentReleaseId: string }>(`/api/apps/${app.id}`)).currentReleaseId).toBe(release.id);
    const listed = (await w.api<{ items: Array<{ id: string; currentRelease: unknown; latestRelease: unknown }> }>('/api/apps')).items.find((a) => a.id === app.id);
    expect(listed).toMatchObject({ currentRelease: { id: release.id, status: 'live', commitSha: commit }, latestRelease: { id: release.id } });

    // The build's output is the run's output; the app's secrets never appear in the run.
    const events = await readRunStream(w.p, queued.workflowId, w.operator.headers);
    expect(logText(events)).toMatch(/COPY www \/www/);
    const history = JSON.stringify((await w.p.temporal.workflow.getHandle(queued.workflowId).fetchHistory()).events);
    expect(history).not.toContain('not-for-history');
    const running = await w.releaseContainers(app.id);
    expect(running.map((c) => c.State)).toEqual(['running']);
  });

  it('switches to the next release with zero failed requests under steady load, then drains the old one', async () => {
    const app = await w.createApp();
    const first = await w.deploy(app.id, w.sample.release('blue'));
    await w.releaseIn(app.id, first.releaseId, ['live']);

    let ok = 0;
    const failures: string[] = [];
    const seen = new Set<string>();
    let loading = true;
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 4 });
    // No retries: a switch changes no config, so not even a kept-alive connection is closed.
    const loop = async (agent: Agent | false) => {
      while (loading) {
        try {
          const res = await w.viaProxyOnce(app.hostname, '/', agent);
          if (res.status === 200) {
            ok++;
            seen.add(res.body);
          } else failures.push(`HTTP ${res.status}: ${res.body.slice(0, 80)}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const load = Promise.all([loop(keepAlive), loop(keepAlive), loop(false), loop(false)]);
    const second = await w.deploy(app.id, w.sample.release('green'));
    const done = await w.releaseDone(app.id, second.releaseId);
    loading = false;
    await load;
    keepAlive.destroy();

    expect(done.status, done.error ?? '').toBe('live');
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(50);
    expect([...seen].sort()).toEqual(['blue', 'green']);
    expect((await w.releases(app.id)).find((r) => r.id === first.releaseId)?.status).toBe('retired');
    // The old release drained and stopped; only the new one runs.
    await expect.poll(async () => (await w.releaseContainers(app.id)).length, { timeout: 15_000 }).toBe(1);
  });

  it('keeps the old release serving when the new container exits, fails its health check, or dies after the switch', async () => {
    const app = await w.createApp({ watchSeconds: 6, healthCheck: { path: '/health', expectedStatus: 200, timeoutSeconds: 5, passes: 2 } });
    const good = await w.deploy(app.id, w.sample.release('stable'));
    await w.releaseIn(app.id, good.releaseId, ['live']);

    const crashed = await w.releaseDone(app.id, (await w.deploy(app.id, w.sample.crashing('boom at start'))).releaseId);
    expect(crashed).toMatchObject({ status: 'failed', error: expect.stringMatching(/not running: its container exited with code \d+/) });
    expect(await w.viaProxy(app.hostname)).toEqual({ status: 200, body: 'stable' });

    const sick = await w.releaseDone(app.id, (await w.deploy(app.id, w.sample.unhealthy('no health'))).releaseId);
    expect(sick).toMatchObject({ status: 'failed', error: expect.stringMatching(/health check did not pass within 5s: GET \/health gave HTTP 404/) });
    expect(await w.viaProxy(app.hostname)).toEqual({ status: 200, body: 'stable' });

    // Passes its health check, takes traffic, then exits within the watch window: switched back.
    const dying = await w.deploy(app.id, w.sample.dying('short-lived', 3));
    const rolled = await w.releaseDone(app.id, dying.releaseId);
    expect(rolled).toMatchObject({ status: 'rolled_back', error: expect.stringMatching(/stopped serving|stopped answering/) });
    expect(await w.viaProxy(app.hostname)).toEqual({ status: 200, body: 'stable' });
    const all = await w.releases(app.id);
    expect(all.find((r) => r.id === good.releaseId)?.status).toBe('live');
    expect((await w.api<{ currentReleaseId: string }>(`/api/apps/${app.id}`)).currentReleaseId).toBe(good.releaseId);
    // Nothing of the failed releases is left running.
    expect((await w.releaseContainers(app.id)).map((c) => c.Names[0])).toEqual([`/keelson-release-${good.releaseId}`]);
    expect(await waitForRun(w.p, dying.workflowId)).toBe('FAILED');
    const run = await w.api<{ status: string; error: { type: string } }>(`/api/runs/${encodeURIComponent(dying.workflowId)}`);
    expect(run).toMatchObject({ status: 'Failed', error: { type: 'DeployRolledBack' } });
  });

  it('rolls back on demand to an earlier release, reusing its image', async () => {
    const app = await w.createApp();
    const v1 = await w.releaseDone(app.id, (await w.deploy(app.id, w.sample.release('one'))).releaseId);
    const v2 = await w.releaseDone(app.id, (await w.deploy(app.id, w.sample.release('two'))).releaseId);
    expect((await w.releases(app.id)).map((r) => [r.id, r.status])).toEqual([
      [v2.id, 'live'],
      [v1.id, 'retired'],
    ]);
    expect(await w.viaProxy(app.hostname)).toMatchObject({ body: 'two' });

    const back = await w.api<{ releaseId: string }>(`/api/apps/${app.id}/rollback`, { body: { releaseId: v1.id }, expect: 202 });
    const rolledBack = await w.releaseDone(app.id, back.releaseId);
    expect(rolledBack).toMatchObject({ status: 'live', image: v1.image, commitSha: v1.commitSha, sourceReleaseId: v1.id });
    expect(rolledBack.timings.buildMs).toBeUndefined();
    expect(await w.viaProxy(app.hostname)).toEqual({ status: 200, body: 'one' });

    // Only a release that served can be a rollback target; the current one is refused too.
    await w.api(`/api/apps/${app.id}/rollback`, { body: { releaseId: back.releaseId }, expect: 409 });
    await w.api(`/api/apps/${app.id}/rollback`, { body: { releaseId: '00000000-0000-4000-8000-000000000000' }, expect: 404 });
  });

  it('runs one deploy per app at a time and deploys only the newest of the requests that queued up', async () => {
    const app = await w.createApp();
    const slow = await w.deploy(app.id, w.sample.slowBuild('slow build', 3));
    await w.releaseIn(app.id, slow.releaseId, ['building']);
    const a = await w.deploy(app.id, w.sample.release('queued a'));
    const b = await w.deploy(app.id, w.sample.release('queued b'));

    await w.releaseDone(app.id, b.releaseId);
    const [last, middle, first] = await w.releases(app.id);
    expect([first!.id, middle!.id, last!.id]).toEqual([slow.releaseId, a.releaseId, b.releaseId]);
    expect(first!.status).toBe('retired');
    expect(middle).toMatchObject({ status: 'superseded', error: `superseded by release ${b.releaseId}` });
    expect(last!.status).toBe('live');
    expect(await w.viaProxy(app.hostname)).toEqual({ status: 200, body: 'queued b' });
  });

  it('cancelling a deploy leaves the app on the release that was serving', async () => {
    const app = await w.createApp();
    const v1 = await w.deploy(app.id, w.sample.release('keep me'));
    await w.releaseIn(app.id, v1.releaseId, ['live']);
    const slow = await w.deploy(app.id, w.sample.slowBuild('never mind', 20));
    await w.releaseIn(app.id, slow.releaseId, ['building']);
    await w.api(`/api/runs/${encodeURIComponent(slow.workflowId)}/cancel`, { method: 'POST', expect: 202 });
    expect(await w.releaseDone(app.id, slow.releaseId)).toMatchObject({ status: 'canceled' });
    expect(await w.viaProxy(app.hostname)).toEqual({ status: 200, body: 'keep me' });
    expect((await w.releaseContainers(app.id)).length).toBe(1);
  });

  it('waits for an approval before the switch when the app asks for one', async () => {
    const app = await w.createApp({ requireApproval: true });
    const queued = await w.deploy(app.id, w.sample.release('approved content'));
    await w.releaseIn(app.id, queued.releaseId, ['awaiting_approval']);
    expect((await w.viaProxy(app.hostname)).status).toBe(404); // nothing serves before the switch
    await w.api(`/api/runs/${encodeURIComponent(queued.workflowId)}/approval`, { body: { decision: 'approve', comment: 'go' } });
    expect((await w.releaseDone(app.id, queued.releaseId)).status).toBe('live');
    expect(await w.viaProxy(app.hostname)).toEqual({ status: 200, body: 'approved content' });

    const refused = await w.deploy(app.id, w.sample.release('refused content'));
    await w.releaseIn(app.id, refused.releaseId, ['awaiting_approval']);
    await w.api(`/api/runs/${encodeURIComponent(refused.workflowId)}/approval`, { body: { decision: 'reject', comment: 'not now' } });
    expect(await w.releaseDone(app.id, refused.releaseId)).toMatchObject({ status: 'canceled', error: expect.stringMatching(/rejected by .*: not now/) });
    expect(await w.viaProxy(app.hostname)).toEqual({ status: 200, body: 'approved content' });
  });

  it('puts back the routes a restarted proxy lost, and leaves existing ones alone', async () => {
    const app = await w.createApp();
    await w.releaseDone(app.id, (await w.deploy(app.id, w.sample.release('still here'))).releaseId);
    // What a Caddy restart does: its in-memory config, and the app's route with it, is gone.
    // (Each check is a new connection: one kept alive across a config change can still be
    // answered by the config it replaced, once in 300 changes under load; never in 600 new ones.)
    await w.proxy.removeRoute(appRouteId(app.id));
    expect((await w.viaProxy(app.hostname)).status).toBe(404);

    const { restored } = await restoreAppRoutes({ db: w.p.db, proxy: w.proxy, nodeId: w.nodeId });
    expect(restored).toContain(app.id);
    expect(await w.viaProxy(app.hostname)).toEqual({ status: 200, body: 'still here' });
    expect((await restoreAppRoutes({ db: w.p.db, proxy: w.proxy, nodeId: w.nodeId })).restored).toEqual([]);
  });

  it('refuses bad app settings with a message naming the field', async () => {
    const bad = await w.p.request('/api/apps', {
      headers: w.operator.headers,
      body: { name: 'Bad Name', repoUrl: 'not a url', containerPort: 0, nodeId: w.nodeId, hostname: 'Not_A_Host', buildContext: '../outside' },
    });
    expect(bad.status).toBe(400);
    const text = await bad.text();
    for (const field of ['name', 'repoUrl', 'containerPort', 'hostname', 'buildContext']) expect(text).toContain(field);
    const app = await w.createApp();
    await w.api('/api/apps', { body: { name: 'other-app', repoUrl: w.sample.repoUrl, containerPort: 8080, nodeId: w.nodeId, hostname: app.hostname }, expect: 409 });
  });
});
