import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchApiKeys } from '$lib/services/api-keys-service';

export const load: PageLoad = async ({ fetch, url }) => {
  try {
    return { keys: (await fetchApiKeys(fetch)).items };
  } catch (err) {
    failLoad(err, url);
  }
};
