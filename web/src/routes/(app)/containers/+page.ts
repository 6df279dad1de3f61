import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchBlueprints } from '$lib/services/blueprints-service';
import { fetchContainers } from '$lib/services/containers-service';
import { fetchNodes } from '$lib/services/nodes-service';

export const load: PageLoad = async ({ fetch, url }) => {
  try {
    const [containers, nodes, blueprints] = await Promise.all([
      fetchContainers(fetch),
      fetchNodes(fetch),
      // Needed only to create; a role without blueprint.read still sees the list.
      fetchBlueprints(fetch).catch(() => ({ items: [] })),
    ]);
    return { containers: containers.items, nodes: nodes.items, blueprints: blueprints.items };
  } catch (err) {
    failLoad(err, url);
  }
};
