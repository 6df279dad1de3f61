import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchOrders } from '$lib/services/billing-service';

export const load: PageLoad = async ({ fetch, url }) => {
  try {
    return { orders: (await fetchOrders(fetch)).items };
  } catch (err) {
    failLoad(err, url);
  }
};
