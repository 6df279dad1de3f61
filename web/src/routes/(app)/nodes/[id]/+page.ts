import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchNodes } from '$lib/services/nodes-service';
import { error } from '@sveltejs/kit';

export const load: PageLoad = async ({ fetch, params, url }) => {
  try {
    const node = (await fetchNodes(fetch)).items.find((n) => n.id === params.id);
    if (!node) error(404, 'node not found');
    return { node };
  } catch (err) {
    failLoad(err, url);
  }
};
