import { appRouteId } from '@keelson/common/constants';
import type { Database } from '@keelson/db';
import { apps, releases } from '@keelson/db/schema';
import { and, eq, isNotNull } from 'drizzle-orm';
import type Docker from 'dockerode';
import { suspendedApps } from '../suspension/index';
import { publishedUpstream, suspendedPage, type EdgeProxy } from './index';

/**
 * Puts back the routes of a node's apps that its edge proxy has lost — Caddy keeps its config in
 * memory, so a restarted Caddy serves nothing until told again — and, given the node's engine,
 * follows a live release whose container the engine restarted on another host port (releases
 * started before ports were pinned get a new one from Docker): the release's record and its route
 * move to where it now listens. A route that points anywhere else is left alone, so this never
 * races a deploy that is switching one. Node workers run it at start and with each health report.
 * Apps held by a suspension (decision 0027) get the suspended page back instead.
 */
export async function restoreAppRoutes({ db, proxy, nodeId, docker }: { db: Database; proxy: EdgeProxy; nodeId: string; docker?: Docker }) {
  const serving = await db
    .select({ appId: apps.id, hostname: apps.hostname, containerPort: apps.containerPort, releaseId: releases.id, upstream: releases.upstream })
    .from(apps)
    .innerJoin(releases, eq(releases.id, apps.currentReleaseId))
    .where(and(eq(apps.nodeId, nodeId), isNotNull(releases.upstream)));
  if (!serving.length) return { restored: [] as string[], followed: [] as string[] };
  await proxy.ensureServer();
  const restored: string[] = [];
  const followed: string[] = [];
  // A suspended app keeps answering the suspended page, also after a deploy or a restarted Caddy;
  // one whose suspension is being lifted is left to its suspension run, which switches it back.
  const { held, lifting } = await suspendedApps(db, nodeId);
  for (const app of serving) {
    const id = appRouteId(app.appId);
    const reasons = held.get(app.appId);
    if (reasons) {
      await proxy.setStaticRoute({ id, hosts: [app.hostname], ...suspendedPage(reasons) });
      continue;
    }
    if (lifting.has(app.appId)) continue;
    const route = await proxy.getRoute(id);
    const now = docker ? await publishedUpstream(docker, app.releaseId, app.containerPort) : null;
    if (now && now !== app.upstream) {
      await db.update(releases).set({ upstream: now }).where(and(eq(releases.id, app.releaseId), eq(releases.upstream, app.upstream!)));
      if (!route || route.upstream === app.upstream) {
        await proxy.setRoute({ id, hosts: [app.hostname], upstream: now });
        followed.push(app.appId);
      }
      continue;
    }
    if (route) continue;
    await proxy.setRoute({ id, hosts: [app.hostname], upstream: app.upstream! });
    restored.push(app.appId);
  }
  return { restored, followed };
}
