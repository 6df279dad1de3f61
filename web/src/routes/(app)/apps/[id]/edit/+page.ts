import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchApp } from '$lib/services/apps-service';
import { fetchNodes } from '$lib/services/nodes-service';

export const load: PageLoad = async ({ fetch, params, url }) => {
  try {
    const [app, nodes] = await Promise.all([fetchApp(fetch, params.id), fetchNodes(fetch)]);
    return { app, nodes: nodes.items };
  } catch (err) {
    failLoad(err, url);
  }
};
