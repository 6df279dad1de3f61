import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchApps } from '$lib/services/apps-service';
import { fetchNodes } from '$lib/services/nodes-service';

export const load: PageLoad = async ({ fetch, url }) => {
  try {
    const [apps, nodes] = await Promise.all([
      fetchApps(fetch),
      // Only for node names; a role without node.read still sees the list.
      fetchNodes(fetch).catch(() => ({ items: [] })),
    ]);
    return { apps: apps.items, nodes: nodes.items };
  } catch (err) {
    failLoad(err, url);
  }
};
