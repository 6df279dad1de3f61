import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchCreditNotes } from '$lib/services/billing-service';

export const load: PageLoad = async ({ fetch, url }) => {
  try {
    return { notes: (await fetchCreditNotes(fetch)).items };
  } catch (err) {
    failLoad(err, url);
  }
};
