import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchBlueprints } from '$lib/services/blueprints-service';

export const load: PageLoad = async ({ fetch, url }) => {
  try {
    return { blueprints: (await fetchBlueprints(fetch)).items };
  } catch (err) {
    failLoad(err, url);
  }
};
