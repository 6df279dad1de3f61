import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchQuotes } from '$lib/services/billing-service';

export const load: PageLoad = async ({ fetch, url }) => {
  try {
    return { quotes: (await fetchQuotes(fetch)).items };
  } catch (err) {
    failLoad(err, url);
  }
};
