import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchCreditNote } from '$lib/services/billing-service';

export const load: PageLoad = async ({ fetch, url, params }) => {
  try {
    return { note: await fetchCreditNote(fetch, params.id) };
  } catch (err) {
    failLoad(err, url);
  }
};
