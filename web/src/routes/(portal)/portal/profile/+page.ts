import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchCustomers, fetchSavedCard } from '$lib/services/billing-service';

/** A customer user's list of customers is their own one. */
export const load: PageLoad = async ({ fetch, url }) => {
  try {
    const customer = (await fetchCustomers(fetch)).items[0] ?? null;
    return { customer, card: customer ? (await fetchSavedCard(fetch, customer.id)).card : null };
  } catch (err) {
    failLoad(err, url);
  }
};
