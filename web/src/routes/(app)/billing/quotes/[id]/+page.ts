import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { session } from '$lib/auth/session.svelte';
import { fetchCustomers, fetchProducts, fetchQuote } from '$lib/services/billing-service';

export const load: PageLoad = async ({ fetch, url, params, parent }) => {
  await parent();
  try {
    const manage = session.can('billing.manage');
    const [quote, customers, products] = await Promise.all([
      fetchQuote(fetch, params.id),
      manage ? fetchCustomers(fetch) : Promise.resolve({ items: [] }),
      manage ? fetchProducts(fetch) : Promise.resolve({ items: [] }),
    ]);
    return { quote, customers: customers.items, products: products.items };
  } catch (err) {
    failLoad(err, url);
  }
};
