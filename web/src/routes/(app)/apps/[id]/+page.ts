import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchApp, fetchDeliveries, fetchReleases } from '$lib/services/apps-service';
import { fetchNodes } from '$lib/services/nodes-service';

export const load: PageLoad = async ({ fetch, params, url }) => {
  try {
    const [app, releases, deliveries, nodes] = await Promise.all([
      fetchApp(fetch, params.id),
      fetchReleases(fetch, params.id),
      fetchDeliveries(fetch, params.id),
      // Only for the node's name; a role without node.read still sees the app.
      fetchNodes(fetch).catch(() => ({ items: [] })),
    ]);
    return { app, releases: releases.items, deliveries: deliveries.items, nodes: nodes.items };
  } catch (err) {
    failLoad(err, url);
  }
};
