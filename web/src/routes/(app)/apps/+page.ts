import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchApps, fetchReleases } from '$lib/services/apps-service';
import { fetchNodes } from '$lib/services/nodes-service';

export const load: PageLoad = async ({ fetch, url }) => {
  try {
    const [apps, nodes] = await Promise.all([
      fetchApps(fetch),
      // Only for node names; a role without node.read still sees the list.
      fetchNodes(fetch).catch(() => ({ items: [] })),
    ]);
    // The list answers with each app's current release id only: its status and commit are in
    // the app's releases.
    const releases = Object.fromEntries(await Promise.all(apps.items.map(async (a) => [a.id, (await fetchReleases(fetch, a.id)).items] as const)));
    return { apps: apps.items, nodes: nodes.items, releases };
  } catch (err) {
    failLoad(err, url);
  }
};
