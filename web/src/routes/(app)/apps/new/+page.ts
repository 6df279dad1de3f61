import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchNodes } from '$lib/services/nodes-service';

export const load: PageLoad = async ({ fetch, url }) => {
  try {
    return { nodes: (await fetchNodes(fetch)).items };
  } catch (err) {
    failLoad(err, url);
  }
};
