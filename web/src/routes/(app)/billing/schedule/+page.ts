import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchBillingSchedule } from '$lib/services/billing-service';

export const load: PageLoad = async ({ fetch, url }) => {
  try {
    return { schedule: await fetchBillingSchedule(fetch) };
  } catch (err) {
    failLoad(err, url);
  }
};
