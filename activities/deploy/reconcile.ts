import { appRouteId } from '@keelson/common/constants';
import type { Database } from '@keelson/db';
import { apps, releases } from '@keelson/db/schema';
import { and, eq, isNotNull } from 'drizzle-orm';
import type { EdgeProxy } from './index';

/**
 * Puts back the routes of a node's apps that its edge proxy has lost — Caddy keeps its config in
 * memory, so a restarted Caddy serves nothing until told again. Only missing routes are added:
 * a route that exists is left alone, so this never races a deploy that is switching one.
 * Node workers run it at start and with each health report.
 */
export async function restoreAppRoutes({ db, proxy, nodeId }: { db: Database; proxy: EdgeProxy; nodeId: string }) {
  const serving = await db
    .select({ appId: apps.id, hostname: apps.hostname, upstream: releases.upstream })
    .from(apps)
    .innerJoin(releases, eq(releases.id, apps.currentReleaseId))
    .where(and(eq(apps.nodeId, nodeId), isNotNull(releases.upstream)));
  if (!serving.length) return { restored: [] as string[] };
  await proxy.ensureServer();
  const restored: string[] = [];
  for (const app of serving) {
    if (await proxy.getRoute(appRouteId(app.appId))) continue;
    await proxy.setRoute({ id: appRouteId(app.appId), hosts: [app.hostname], upstream: app.upstream! });
    restored.push(app.appId);
  }
  return { restored };
}
