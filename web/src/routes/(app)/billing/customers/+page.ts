import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchCustomers } from '$lib/services/billing-service';

export const load: PageLoad = async ({ fetch, url }) => {
  try {
    return { customers: (await fetchCustomers(fetch)).items };
  } catch (err) {
    failLoad(err, url);
  }
};
