import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchCustomers } from '$lib/services/billing-service';

/** A customer user's list of customers is their own one. */
export const load: PageLoad = async ({ fetch, url }) => {
  try {
    return { customer: (await fetchCustomers(fetch)).items[0] ?? null };
  } catch (err) {
    failLoad(err, url);
  }
};
