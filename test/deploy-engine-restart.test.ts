import { restoreAppRoutes } from '@keelson/activities';
import { AppLabel } from '@keelson/activities/deploy/index';
import { appRouteId } from '@keelson/common/constants';
import { releases } from '@keelson/db/schema';
import Docker from 'dockerode';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupDeployWorld, type AppRecord } from './deploy-harness';
import { startPrivateDocker, type PrivateDocker } from './private-docker';
import { until } from './worker-process';

/**
 * The node's Docker engine restarts (a package upgrade, a crash) while a deploy runs, on an engine
 * of the test's own: the deploy must end live, the app must answer through the proxy, and no
 * container may be left over. An engine restart stops every container and starts those with a
 * restart policy again, on the ports they were created with.
 */
describe('a Docker engine restart during a deploy', { timeout: 240_000 }, () => {
  let engine: PrivateDocker;
  beforeAll(async () => {
    engine = await startPrivateDocker({ images: ['keelson/busybox:latest'], from: new Docker({ socketPath: '/var/run/docker.sock' }) });
  }, 120_000);
  const w = setupDeployWorld({ engine: () => engine });
  afterAll(async () => {
    await engine?.remove();
  });

  let app: AppRecord;

  /** Restarts the engine as a service manager would; resolves when it answers again. */
  async function restartEngine(): Promise<number> {
    const t0 = Date.now();
    await engine.stop();
    await engine.start();
    return Date.now() - t0;
  }

  /**
   * Every container on the engine: the release containers and anything a build left behind —
   * but a build step's container whose removal the engine itself had begun as it stopped: that
   * one stays `dead` with its filesystem mounted, no API call can remove it (the run says so).
   */
  const everything = async () =>
    (await engine.docker.listContainers({ all: true })).filter((c) => c.State !== 'dead' || c.Labels[AppLabel.release]).map((c) => ({ name: c.Names[0], state: c.State }));

  it('restarted mid-build: the deploy retries, ends live, and the app answers from it alone', async () => {
    app = await w.createApp({ watchSeconds: 1, drainSeconds: 0 });
    const first = await w.deploy(app.id, w.sample.release('before the restart'));
    await w.releaseIn(app.id, first.releaseId, ['live']);

    const second = await w.deploy(app.id, w.sample.slowBuild('after the restart', 25));
    // The build's RUN step runs in a container of the builder's: the build is under way.
    await until('the build to run its slow step', async () => (await everything()).some((c) => !c.name?.startsWith('/keelson-release-')), 90_000);
    const downMs = await restartEngine();

    const release = await w.releaseDone(app.id, second.releaseId, 150_000);
    expect(release.status, release.error ?? '').toBe('live');
    expect(downMs).toBeGreaterThan(1_000);
    expect(await w.viaProxy(app.hostname)).toEqual({ status: 200, body: 'after the restart' });
    expect((await w.releases(app.id)).find((r) => r.id === first.releaseId)?.status).toBe('retired');
    // Only the live release's container: the old one drained and removed, no build container left.
    expect(await everything()).toEqual([{ name: `/keelson-release-${second.releaseId}`, state: 'running' }]);
    // The build was interrupted and ran again: the run says so in its history.
    const events = (await w.p.temporal.workflow.getHandle(second.workflowId).fetchHistory()).events ?? [];
    const build = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'buildImage');
    const started = events.find((e) => Number(e.activityTaskStartedEventAttributes?.scheduledEventId) === Number(build?.eventId));
    expect(started?.activityTaskStartedEventAttributes?.attempt).toBeGreaterThan(1);
  });

  it('restarted while the app serves: the live release comes back on its port and the proxy reaches it', async () => {
    const before = (await w.releases(app.id)).find((r) => r.status === 'live')!;
    const [record] = await w.p.db.select().from(releases).where(eq(releases.id, before.id));
    await restartEngine();
    const answer = await until('the app to answer through the proxy again', async () => {
      const res = await w.viaProxy(app.hostname).catch(() => undefined);
      return res?.status === 200 ? res : undefined;
    });
    expect(answer.body).toBe('after the restart');
    const [after] = await w.p.db.select().from(releases).where(eq(releases.id, before.id));
    expect(after!.upstream).toBe(record!.upstream);
    expect(await everything()).toEqual([{ name: `/keelson-release-${before.id}`, state: 'running' }]);
  });

  it('reconciling the proxy follows a live release that listens somewhere other than recorded, and leaves a route in a switch alone', async () => {
    const live = (await w.releases(app.id)).find((r) => r.status === 'live')!;
    const [record] = await w.p.db.select().from(releases).where(eq(releases.id, live.id));
    const actual = record!.upstream!;
    // As after an engine restart that gave a container without a pinned port a new one.
    const stale = '127.0.0.1:9';
    await w.p.db.update(releases).set({ upstream: stale }).where(eq(releases.id, live.id));
    await w.proxy.setRoute({ id: appRouteId(app.id), hosts: [app.hostname], upstream: stale });

    const { followed } = await restoreAppRoutes({ db: w.p.db, proxy: w.proxy, nodeId: w.nodeId, docker: engine.docker });
    expect(followed).toEqual([app.id]);
    expect(await w.viaProxy(app.hostname)).toEqual({ status: 200, body: 'after the restart' });
    expect((await w.p.db.select().from(releases).where(eq(releases.id, live.id)))[0]!.upstream).toBe(actual);

    // A route that points at neither (a deploy switching it) is not taken back.
    await w.p.db.update(releases).set({ upstream: stale }).where(eq(releases.id, live.id));
    const elsewhere = '127.0.0.1:10';
    await w.proxy.setRoute({ id: appRouteId(app.id), hosts: [app.hostname], upstream: elsewhere });
    expect((await restoreAppRoutes({ db: w.p.db, proxy: w.proxy, nodeId: w.nodeId, docker: engine.docker })).followed).toEqual([]);
    expect((await w.proxy.getRoute(appRouteId(app.id)))?.upstream).toBe(elsewhere);
    expect((await w.p.db.select().from(releases).where(eq(releases.id, live.id)))[0]!.upstream).toBe(actual);
    await w.proxy.setRoute({ id: appRouteId(app.id), hosts: [app.hostname], upstream: actual });
  });
});
