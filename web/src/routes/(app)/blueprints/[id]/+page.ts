import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchBlueprint } from '$lib/services/blueprints-service';

export const load: PageLoad = async ({ fetch, params, url }) => {
  try {
    return { blueprint: await fetchBlueprint(fetch, params.id) };
  } catch (err) {
    failLoad(err, url);
  }
};
