import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchInvoice } from '$lib/services/billing-service';

export const load: PageLoad = async ({ fetch, url, params }) => {
  try {
    return { invoice: await fetchInvoice(fetch, params.id) };
  } catch (err) {
    failLoad(err, url);
  }
};
