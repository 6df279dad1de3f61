import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchOrders, fetchSubscriptions } from '$lib/services/billing-service';

export const load: PageLoad = async ({ fetch, url }) => {
  try {
    const [orders, subscriptions] = await Promise.all([fetchOrders(fetch), fetchSubscriptions(fetch)]);
    return { orders: orders.items, subscriptions: subscriptions.items };
  } catch (err) {
    failLoad(err, url);
  }
};
